"""What the bench scripts share: where the release build is, and the busybox rootfs."""
import os, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "x86_64-unknown-linux-gnu", "release")
BULKHEAD = os.environ.get("BULKHEAD", os.path.join(RELEASE, "bulkhead"))


def busybox_rootfs(rootfs, applets=("sh", "true", "echo", "sleep"), dirs=("bin",)):
    """A rootfs of busybox-static with `applets` linked to it in /bin, and empty `dirs`."""
    for d in dirs:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.makedirs(os.path.join(rootfs, "bin"), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for a in applets:
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
