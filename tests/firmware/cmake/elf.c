// ESP-IDF's project executable also has a placeholder source.
int main(void) {
    return 0;
}
