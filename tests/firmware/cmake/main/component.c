// The check project's component library needs one source of its own.
int mpcoap_check_component;
