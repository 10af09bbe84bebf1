"""Run one container of a rendered Kubernetes pod from a local image, the way a kubelet would.

There is no container engine here that can run it: crun refuses this machine's hybrid cgroup
layout and `buildah run` has no read-only root. So the pieces are put together with
util-linux, as a runtime would:
- the image's root filesystem is buildah's mount of a working container, bind-mounted
  read-only when the pod says readOnlyRootFilesystem;
- the pod's volumes are folders here: configMap and secret volumes hold the given data
  (secret files mode 0440, group fsGroup, like the kubelet writes them), emptyDir and
  persistent claims are empty folders the pod's group may write; subPath mounts one file;
- the process runs as the pod's user and group, in its own PID namespace (so the daemon is
  PID 1 and gets the stop signal the way a runtime sends it), with no_new_privs for
  allowPrivilegeEscalation: false and no capabilities (a non-root user keeps none);
- the network namespace is the host's, so the daemon reaches the test cluster on loopback,
  as a sidecar reaches its broker on localhost.
Needs root (mount namespaces), as buildah does.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BUILDAH = ["buildah", "--log-level=error"]


def image_config(image: str) -> dict[str, Any]:
    out = subprocess.run(
        [*BUILDAH, "inspect", "--type", "image", image], capture_output=True, text=True, check=True
    )
    config: dict[str, Any] = json.loads(out.stdout)["Docker"]["config"]
    return config


class PodContainer:
    def __init__(
        self,
        image: str,
        pod: Mapping[str, Any],
        container: str,
        workdir: Path,
        *,
        data: Mapping[str, Mapping[str, str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`pod` is a PodSpec; `data` gives the content of configMap and secret volumes by
        the ConfigMap's or Secret's name; `env` adds variables after the pod's own."""
        self.image = image
        self.pod = pod
        (self.spec,) = [c for c in pod["containers"] if c["name"] == container]
        self.workdir = workdir
        self.data = data or {}
        self.extra_env = dict(env or {})
        self.log_path = workdir / f"{container}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._ctr: str | None = None
        self._rootfs = ""

    # -- what the pod asks for ------------------------------------------------------------
    def _security(self, key: str) -> Any:
        own = self.spec.get("securityContext") or {}
        pod = self.pod.get("securityContext") or {}
        return own[key] if key in own else pod.get(key)

    def _ids(self, config: Mapping[str, Any]) -> tuple[int, int]:
        user = self._security("runAsUser")
        group = self._security("runAsGroup")
        if user is None or group is None:
            image_user, _, image_group = str(config.get("User") or "0").partition(":")
            user = int(image_user) if user is None else user
            group = int(image_group or user) if group is None else group
        if self._security("runAsNonRoot") and int(user) == 0:
            raise RuntimeError("runAsNonRoot but the container would run as root")
        fs_group = (self.pod.get("securityContext") or {}).get("fsGroup")
        if fs_group is not None and fs_group != group:
            raise RuntimeError("this runner supports fsGroup == runAsGroup only")
        return int(user), int(group)

    def _environment(self, config: Mapping[str, Any]) -> dict[str, str]:
        env = dict(item.split("=", 1) for item in config.get("Env") or [])
        for var in self.spec.get("env") or []:
            if "value" in var:
                env[var["name"]] = str(var["value"])
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = self.data[ref["name"]][ref["key"]]
        env.update(self.extra_env)
        return env

    def _argv(self, config: Mapping[str, Any]) -> list[str]:
        command = self.spec.get("command") or config.get("Entrypoint") or []
        args = self.spec.get("args") if "args" in self.spec else config.get("Cmd") or []
        return [*command, *args]

    def _volume_dirs(self, group: int) -> dict[str, Path]:
        dirs = {}
        for volume in self.pod.get("volumes") or []:
            path = self.workdir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            source = volume.get("configMap") or volume.get("secret")
            if source is not None:
                name = source.get("name") or source.get("secretName")
                is_secret = "secret" in volume
                mode = source.get("defaultMode", 0o644)
                for key, text in self.data[name].items():
                    file = path / key
                    file.write_text(text)
                    os.chown(file, 0, group if is_secret else 0)
                    os.chmod(file, mode)
                os.chmod(path, 0o755)
            else:  # emptyDir; the StatefulSet's claims are given as volumes by the caller
                os.chown(path, 0, group)
                os.chmod(path, 0o2775)
            dirs[volume["name"]] = path
        return dirs

    # -- running --------------------------------------------------------------------------
    def start(self) -> PodContainer:
        config = image_config(self.image)
        user, group = self._ids(config)
        volumes = self._volume_dirs(group)
        self._ctr = subprocess.run(
            [*BUILDAH, "from", "--pull-never", self.image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self._rootfs = subprocess.run(
            [*BUILDAH, "mount", self._ctr], capture_output=True, text=True, check=True
        ).stdout.strip()
        root = Path(tempfile.mkdtemp(dir=self.workdir, prefix="root."))
        q = shlex.quote
        script = ["set -e", f"mount --bind {q(self._rootfs)} {q(str(root))}"]
        binds = []
        for mount in self.spec.get("volumeMounts") or []:
            source = volumes[mount["name"]]
            if "subPath" in mount:
                source = source / mount["subPath"]
            target = self._rootfs + mount["mountPath"]
            # Mount points are made in the working container's own layer, before the root
            # turns read-only, as a runtime does.
            if source.is_dir():
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                Path(target).touch()
            binds.append((source, str(root) + mount["mountPath"], mount.get("readOnly", False)))
        if self._security("readOnlyRootFilesystem"):
            script.append(f"mount -o remount,bind,ro {q(str(root))}")
        script.append(f"mount --rbind /dev {q(str(root / 'dev'))}")
        for host_file in ("/etc/hosts", "/etc/resolv.conf"):
            script.append(f"mount --bind {host_file} {q(str(root) + host_file)}")
            script.append(f"mount -o remount,bind,ro {q(str(root) + host_file)}")
        for source, target, read_only in binds:
            script.append(f"mount --bind {q(str(source))} {q(target)}")
            if read_only:
                script.append(f"mount -o remount,bind,ro {q(target)}")
        runner = ["setpriv"]
        if self._security("allowPrivilegeEscalation") is False:
            runner.append("--no-new-privs")
        runner += [
            "unshare", "--pid", "--fork", "--kill-child", "--ipc", "--uts",
            "--mount-proc=/proc", f"--root={root}",
            f"--wd={self.spec.get('workingDir') or config.get('WorkingDir') or '/'}",
            f"--setuid={user}", f"--setgid={group}", "--",
            *self._argv(config),
        ]  # fmt: skip
        script.append("exec " + shlex.join(runner))
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._environment(config),
            start_new_session=True,
        )
        return self

    def main_pid(self, timeout: float = 30) -> int:
        """Host PID of the container's PID 1 (the inner unshare's only child)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the container exited ({self.proc.returncode}):\n{self.log()}")
            try:
                children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            except OSError:
                children = ""
            if children.split():
                return int(children.split()[0])
            time.sleep(0.1)
        raise TimeoutError("the container's process did not start")

    def stop(self, timeout: float = 60) -> int:
        """Send the image's STOPSIGNAL to PID 1, as a runtime does; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            name = image_config(self.image).get("StopSignal") or "SIGTERM"
            os.kill(self.main_pid(), signal.Signals[name])
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        if hasattr(self, "_log"):
            self._log.close()
        if self._ctr is not None:
            subprocess.run([*BUILDAH, "umount", self._ctr], capture_output=True, check=False)
            subprocess.run([*BUILDAH, "rm", self._ctr], capture_output=True, check=False)
            self._ctr = None

    def __enter__(self) -> PodContainer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def volume(self, name: str) -> Path:
        return self.workdir / "volumes" / name


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, str(exc)


def probe(container: Mapping[str, Any], kind: str, host: str = "127.0.0.1") -> tuple[int, str]:
    """One httpGet probe of the container spec, as the kubelet sends it."""
    get = container[kind]["httpGet"]
    port = get["port"]
    if isinstance(port, str):
        (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return http_get(f"http://{host}:{port}{get['path']}")
