#!/usr/bin/env python3
"""`make firmware` reuses the Docker image without asking any registry.

    check_image_reuse.py REPO WORKDIR

No Docker engine runs here, so a stand-in `docker` (DOCKER=...) records
every call and answers `info`, `buildx version` and `image inspect` the way
the engine does, with the image label this check chooses. `make firmware`
must then:
  - with the image labelled with the current inputs' hash: call no
    `build` at all (BuildKit would ask the registry, moby/buildkit#1784,
    docker/buildx#738) and go straight to `docker run`;
  - with another label (inputs changed) or no image: run
    `docker buildx build --load --label org.mpcoap.image-inputs=<hash>` first;
and `make docker-image` must stop with the buildx message when `docker
buildx version` fails. The board build itself is the stand-in's `run`,
which does nothing.
"""
import os
import shlex
import subprocess
import sys

FAKE = r'''#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1 $2" in
  "info "*) exit 0 ;;
  "buildx version") [ -n "$FAKE_NO_BUILDX" ] && exit 1; echo "github.com/docker/buildx v0.0.0"; exit 0 ;;
  "buildx build") exit 0 ;;
  "image inspect") [ -n "$FAKE_LABEL" ] || exit 1; echo "$FAKE_LABEL"; exit 0 ;;
  "run "*) exit 0 ;;
esac
echo "fake docker: unexpected $*" >&2
exit 2
'''


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    repo, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    fake = os.path.join(work, "docker")
    with open(fake, "w") as f:
        f.write(FAKE)
    os.chmod(fake, 0o755)
    log = os.path.join(work, "calls.log")
    current = subprocess.run(["make", "-s", "--no-print-directory", "-C", repo, "print-docker-image-hash"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout.strip()

    def make(target, **env):
        if os.path.exists(log):
            os.remove(log)
        e = dict(os.environ, FAKE_DOCKER_LOG=log, **env)
        # firmware-info reads the board's sdkconfig: none here, and not needed.
        r = subprocess.run(["make", "--no-print-directory", "-C", repo, target, "DOCKER=" + fake,
                            "BOARD=ESP32_GENERIC_C3"], env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        calls = open(log).read().splitlines() if os.path.exists(log) else []
        return r, calls

    fails = 0

    def verdict(ok, what, r, calls):
        nonlocal fails
        print(("PASS " if ok else "FAIL ") + what)
        if not ok:
            fails += 1
            print("  docker calls:\n    " + "\n    ".join(calls))
            print("  make output:\n    " + r.stdout.strip().replace("\n", "\n    "))

    r, calls = make("firmware", FAKE_LABEL=current)
    builds = [c for c in calls if "build" in c.split()[:2]]
    verdict(r.returncode == 0 and not builds and any(c.startswith("run ") for c in calls),
            "image labelled %s (current inputs): make firmware runs no docker build" % current, r, calls)

    for label, why in (("0000000000000000", "inputs changed"), ("", "no image")):
        r, calls = make("firmware", FAKE_LABEL=label)
        build = [shlex.split(c) for c in calls if c.startswith("buildx build")]
        ok = (r.returncode == 0 and len(build) == 1 and "--load" in build[0]
              and "org.mpcoap.image-inputs=" + current in build[0]
              and calls.index(next(c for c in calls if c.startswith("buildx build")))
              < calls.index(next(c for c in calls if c.startswith("run "))))
        verdict(ok, "%s: make firmware runs docker buildx build --load with the new label, then the build" % why,
                r, calls)

    r, calls = make("docker-image", FAKE_NO_BUILDX="1")
    verdict(r.returncode != 0 and "buildx plugin" in r.stdout and not any(c.startswith("buildx build") for c in calls),
            "no buildx: make docker-image stops with the buildx message", r, calls)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
