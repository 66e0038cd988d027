#!/usr/bin/python3
"""Checks the top-level Dockerfile without a Docker engine.

* Shape: a build stage FROM debian:bookworm and a final stage FROM debian:bookworm-slim; COPY
  --from names an earlier stage; the sources the build stage copies exist, and the CMake options
  it sets are declared; kproxy is installed as /usr/local/bin/kproxy and linked as kube-proxy;
  the ENTRYPOINT is kube-proxy in exec (JSON) form.
* Packages: every package either stage installs exists in Debian bookworm (apt-cache on this
  Debian 12 host).
* Libraries: every shared library `ldd KPROXY_BINARY` resolves belongs (dpkg -S) to a package the
  runtime stage installs, or to one of their dependencies (apt-cache depends, recursively), or
  to the slim base image's essential set.
* Lint, in the spirit of hadolint: apt-get install with -y and --no-install-recommends, apt lists
  removed in the same RUN (DL3009, DL3015, DL3014), no apt-get upgrade (DL3005), no :latest or
  untagged base image (DL3006, DL3007), no `cd` in RUN (DL3003), WORKDIR absolute (DL3000).
  Real hadolint runs too when it is on PATH.

Usage: /usr/bin/python3 deploy/check_dockerfile.py [Dockerfile] [KPROXY_BINARY]
Exit 0 when everything holds, 1 with the list of problems, 77 (skip) without apt-cache/dpkg.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

# What debian:bookworm-slim always has (Priority: required / Essential), so a library from these
# needs no install line.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5",
                       "libselinux1", "libpcre2-8-0", "libacl1", "libattr1", "libcrypt1", "libbz2-1.0"}


def instructions(text):
    """The Dockerfile's instructions as (KEYWORD, argument text), continuation lines joined."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def stages(instrs):
    """[{name, image, instrs}] per FROM."""
    result = []
    for keyword, arg in instrs:
        if keyword == "FROM":
            words = arg.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append({"image": words[0], "name": name, "instrs": []})
        elif result:
            result[-1]["instrs"].append((keyword, arg))
    return result


def apt_packages(run_arg):
    """Packages named by `apt-get install` commands in one RUN."""
    packages = []
    for command in re.split(r"&&|;", run_arg):
        words = shlex.split(command)
        while words and "=" in words[0]:
            words = words[1:]  # VAR=value prefixes
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
    return packages


def lint(stage_list, errors):
    for stage in stage_list:
        image = stage["image"]
        if ":" not in image and image != "scratch" and "@" not in image:
            errors.append(f"DL3006: FROM {image}: tag the image")
        if image.endswith(":latest"):
            errors.append(f"DL3007: FROM {image}: do not use :latest")
        for keyword, arg in stage["instrs"]:
            if keyword == "WORKDIR" and not arg.startswith("/"):
                errors.append(f"DL3000: WORKDIR {arg} is not absolute")
            if keyword != "RUN":
                continue
            if re.search(r"(^|&&|;)\s*cd\s", arg):
                errors.append(f"DL3003: use WORKDIR instead of cd: RUN {arg[:60]}...")
            if re.search(r"apt-get\s+(dist-)?upgrade", arg):
                errors.append("DL3005: do not apt-get upgrade")
            if "apt-get install" in arg or re.search(r"apt-get\s.*\binstall\b", arg):
                if not re.search(r"\s-y\b|--yes|--assume-yes", arg):
                    errors.append("DL3014: apt-get install without -y")
                if "--no-install-recommends" not in arg:
                    errors.append("DL3015: apt-get install without --no-install-recommends")
                if "rm -rf /var/lib/apt/lists" not in arg:
                    errors.append("DL3009: apt lists not removed in the RUN that installs")


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def missing_packages(names):
    """The names apt-cache has no candidate for (one apt-cache call: each is slow)."""
    r = run(["apt-cache", "policy", *names])
    candidates, current = {}, None
    for line in r.stdout.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        m = re.match(r"\s+Candidate:\s*(\S+)", line)
        if m and current:
            candidates[current] = m.group(1)
    return [n for n in names if candidates.get(n, "(none)") == "(none)"]


def dependency_closure(packages):
    """The packages and everything they depend on (Depends and Pre-Depends, recursively)."""
    r = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
             "--no-breaks", "--no-replaces", "--no-enhances", *packages])
    closure = set(packages)
    for line in r.stdout.splitlines():
        m = re.match(r"\s*\|?(?:Depends|PreDepends):\s*<?([^\s>]+)>?", line)
        if m:
            closure.add(m.group(1).split(":")[0])
        elif line and not line.startswith(" "):
            closure.add(line.strip().split(":")[0])
    return closure


def library_packages(binary, errors):
    """{library path: package} for what ldd resolves (one dpkg -S for all: it is slow)."""
    r = run(["ldd", binary])
    if r.returncode != 0:
        errors.append(f"ldd {binary}: {r.stderr.strip()}")
        return {}
    candidates = {}  # library path -> the names dpkg may know it by (usrmerge)
    for line in r.stdout.splitlines():
        if "not found" in line:
            errors.append(f"ldd {binary}: {line.strip()}")
            continue
        m = re.search(r"=>\s*(/\S+)", line)
        path = m.group(1) if m else (line.split()[0] if line.strip().startswith("/") else None)
        if not path:
            continue  # linux-vdso
        real = os.path.realpath(path)
        names = {path, real}
        for n in list(names):
            if n.startswith("/usr/lib/"):
                names.add(n[4:])
            elif n.startswith("/lib"):
                names.add("/usr" + n)
        candidates[path] = names
    owners = {}
    everything = sorted({n for names in candidates.values() for n in names})
    d = run(["dpkg", "-S", *everything])
    for line in d.stdout.splitlines():
        package, _, owned = line.partition(": ")
        for p in package.split(", "):
            owners.setdefault(owned.strip(), p.split(":")[0].strip())
    result = {}
    for path, names in candidates.items():
        owner = next((owners[n] for n in sorted(names) if n in owners), None)
        if owner is None:
            errors.append(f"{path}: no Debian package owns it")
        else:
            result[path] = owner
    return result


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dockerfile = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Dockerfile")
    binary = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("KPROXY_BINARY", "")
    if not shutil.which("apt-cache") or not shutil.which("dpkg"):
        print("SKIPPED: apt-cache and dpkg are needed")
        return 77
    with open(dockerfile) as f:
        text = f.read()
    instrs = instructions(text)
    stage_list = stages(instrs)
    errors = []

    # ----- shape -----
    if len(stage_list) < 2:
        errors.append("expected a multi-stage build (a build stage and a runtime stage)")
        return report(errors)
    build, final = stage_list[0], stage_list[-1]
    if build["image"] != "debian:bookworm":
        errors.append(f"build stage FROM {build['image']}, expected debian:bookworm")
    if final["image"] != "debian:bookworm-slim":
        errors.append(f"runtime stage FROM {final['image']}, expected debian:bookworm-slim")
    names = set()
    for stage in stage_list:
        for keyword, arg in stage["instrs"]:
            m = re.search(r"--from=(\S+)", arg) if keyword == "COPY" else None
            if m and m.group(1) not in names:
                errors.append(f"COPY --from={m.group(1)}: no earlier stage has that name")
            if keyword == "COPY" and not m:
                sources = [w for w in arg.split() if not w.startswith("--")][:-1]
                for s in sources:
                    if not os.path.exists(os.path.join(root, s)):
                        errors.append(f"COPY {s}: not in the repository")
        if stage["name"]:
            names.add(stage["name"])
    cmake_lists = open(os.path.join(root, "CMakeLists.txt")).read()
    for keyword, arg in build["instrs"]:
        if keyword == "RUN":
            for option in re.findall(r"-D(KPROXY_\w+)=", arg):
                if f"option({option} " not in cmake_lists:
                    errors.append(f"-D{option}: not an option of CMakeLists.txt")
    final_text = " ".join(f"{k} {a}" for k, a in final["instrs"])
    if not re.search(r"COPY --from=\S+ \S*kproxy /usr/local/bin/kproxy", final_text):
        errors.append("the runtime stage does not install /usr/local/bin/kproxy")
    if not re.search(r"ln -s \S*kproxy /usr/local/bin/kube-proxy", final_text):
        errors.append("the runtime stage does not link /usr/local/bin/kube-proxy to kproxy")
    entry = [a for k, a in final["instrs"] if k == "ENTRYPOINT"]
    try:
        if not entry or json.loads(entry[-1]) != ["/usr/local/bin/kube-proxy"]:
            errors.append(f"ENTRYPOINT should be [\"/usr/local/bin/kube-proxy\"], is {entry}")
    except json.JSONDecodeError:
        errors.append("ENTRYPOINT is not in exec (JSON) form")

    lint(stage_list, errors)
    if shutil.which("hadolint"):
        h = run(["hadolint", "--failure-threshold", "error", dockerfile])
        if h.returncode != 0:
            errors.append("hadolint: " + h.stdout.strip())

    # ----- packages -----
    build_packages = [p for k, a in build["instrs"] if k == "RUN" for p in apt_packages(a)]
    runtime_packages = [p for k, a in final["instrs"] if k == "RUN" for p in apt_packages(a)]
    for tool in ("iptables", "ipset", "conntrack"):
        if tool not in runtime_packages:
            errors.append(f"the runtime stage does not install {tool}")
    for p in missing_packages(sorted(set(build_packages + runtime_packages))):
        errors.append(f"package {p} does not exist in this Debian release")

    # ----- libraries -----
    if binary:
        covered = dependency_closure(runtime_packages) | BASE_IMAGE_PACKAGES
        libs = library_packages(binary, errors)
        for path, owner in sorted(libs.items()):
            if owner not in covered:
                errors.append(f"{path} (package {owner}) is not installed by the runtime stage")
        unused = [p for p in runtime_packages
                  if libs and p.startswith("lib") and p not in set(libs.values()) and p not in BASE_IMAGE_PACKAGES]
        for p in unused:
            # Not an error (a dependency may need it), but worth seeing.
            print(f"note: runtime library package {p} provides none of kproxy's direct libraries")
        print(f"{len(libs)} libraries of {binary} covered by the runtime stage's packages")
    else:
        print("note: no KPROXY_BINARY given, library coverage not checked")
    return report(errors)


def report(errors):
    if errors:
        for e in errors:
            print("error:", e)
        return 1
    print("Dockerfile OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
