#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# test-help-man.py — "--help" of mediacanceld and mediacancelctl must say what their manual
# pages say: the same options with the same argument names, and for mediacancelctl the same
# commands with the same per-command options, in OPTIONS/COMMANDS and in the SYNOPSIS. The
# pages are read as roff source (no man(1) needed): the head line of each .TP item is reduced to
# plain text ("\fB\-c\fR, \fB\-\-config\fR \fIPATH\fR" -> "-c --config PATH").
#
# Runs as an automake test with MEDIACANCEL_BUILDDIR and MEDIACANCEL_SRCDIR set; exit 0 pass,
# 1 fail.

import os
import re
import subprocess
import sys

BUILD = os.environ.get("MEDIACANCEL_BUILDDIR", ".")
SRC = os.environ.get("MEDIACANCEL_SRCDIR", "..")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def roff_args(rest):
    """Macro arguments: words, or double-quoted strings ("" is a literal quote inside)."""
    return [m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
            for m in re.finditer(r'"((?:[^"]|"")*)"|(\S+)', rest)]


def plain(s):
    s = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", s)
    s = s.replace("\\-", "-").replace("\\&", "").replace("\\(em", "--").replace("\\e", "\\")
    return s


def roff_text(line):
    """The text a line prints: font macros joined as man(7) joins them; None for others."""
    if not line.startswith("."):
        return plain(line)
    macro, _, rest = line.partition(" ")
    args = roff_args(rest)
    if macro in (".B", ".I", ".SM"):
        return plain(" ".join(args))
    if macro in (".BI", ".BR", ".IB", ".IR", ".RB", ".RI"):
        return plain("".join(args))
    return None


def norm(spec):
    """"-h, --help" and "-h --help" are the same; whitespace is not significant."""
    return " ".join(spec.replace(",", " ").split())


def sections(path):
    """{section name: [lines]} of a man page."""
    out, name = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if line.startswith(".SH "):
                name = " ".join(roff_args(line[4:]))
                out[name] = []
            elif name and not line.startswith('.\\"'):
                out[name].append(line)
    return out


def tp_items(lines):
    """(depth, head) of each .TP item; depth counts .RS nesting."""
    items, depth = [], 0
    for i, line in enumerate(lines):
        if line.startswith(".RS"):
            depth += 1
        elif line.startswith(".RE"):
            depth -= 1
        elif line.startswith((".TP", ".TQ")) and i + 1 < len(lines):
            head = roff_text(lines[i + 1])
            if head is not None:
                items.append((depth, norm(head)))
    return items


def help_text(program):
    r = subprocess.run([os.path.join(BUILD, program), "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s --help exited %d" % (program, r.returncode))
    return r.stdout


def help_specs(lines, indent):
    """Option or command specs: the text before the description column, at this indent."""
    out = []
    for line in lines:
        m = re.match(r"^( +)(\S.*?)(?:  +\S.*)?$", line)
        if m and len(m.group(1)) in indent:
            out.append((len(m.group(1)), norm(m.group(2))))
    return out


def compare(what, in_help, in_man):
    for s in sorted(set(in_help) - set(in_man)):
        fail("%s: \"%s\" is in --help but not in the manual page" % (what, s))
    for s in sorted(set(in_man) - set(in_help)):
        fail("%s: \"%s\" is in the manual page but not in --help" % (what, s))


def check_daemon():
    text = help_text("mediacanceld")
    opts = [s for _, s in help_specs(text.splitlines(), {2, 6}) if s.startswith("-")]
    man = sections(os.path.join(SRC, "docs/man/mediacanceld.8"))
    compare("mediacanceld OPTIONS", opts, [h for _, h in tp_items(man.get("OPTIONS", []))])
    synopsis = " ".join(filter(None, (roff_text(l) for l in man.get("SYNOPSIS", []))))
    synopsis += " " + " ".join(plain(" ".join(roff_args(l[4:]))) for l in man.get("SYNOPSIS", [])
                               if l.startswith(".OP "))
    for o in opts:
        if not any(w in synopsis.split() for w in o.split() if w.startswith("-")):
            fail("mediacanceld SYNOPSIS does not mention %s" % o)


def check_ctl():
    lines = help_text("mediacancelctl").splitlines()
    try:
        c0, o0 = lines.index("Commands:"), lines.index("Options:")
    except ValueError:
        fail("mediacancelctl --help has no Commands: or Options: section")
        return

    # Commands at indent 2, their options at indent 6 (continuation lines have no spec).
    commands, pairs, cmd = [], [], None
    for ind, spec in help_specs(lines[c0 + 1:o0], {2, 6}):
        if ind == 2:
            cmd = spec
            commands.append(spec)
        elif spec.startswith("-"):
            pairs.append((cmd.split()[0], spec))
    options = [s for _, s in help_specs(lines[o0 + 1:], {2, 5}) if s.startswith("-")]

    man = sections(os.path.join(SRC, "docs/man/mediacancelctl.1"))
    man_commands, man_pairs, cmd = [], [], None
    for depth, head in tp_items(man.get("COMMANDS", [])):
        if depth == 0:
            cmd = head
            man_commands.append(head)
        else:
            man_pairs.append((cmd.split()[0], head))
    compare("mediacancelctl COMMANDS", commands, man_commands)
    compare("mediacancelctl command options", ["%s %s" % p for p in pairs], ["%s %s" % p for p in man_pairs])
    compare("mediacancelctl OPTIONS", options, [h for _, h in tp_items(man.get("OPTIONS", []))])

    # SYNOPSIS: one .SY block per command, with its options as .OP.
    blocks, cur = [], None
    for line in man.get("SYNOPSIS", []):
        if line.startswith(".SY"):
            cur = []
            blocks.append(cur)
        elif cur is not None and line.startswith(".OP "):
            cur.append(norm(plain(" ".join(roff_args(line[4:])))))
        elif cur is not None and not line.startswith((".YS", ".RI")):
            t = roff_text(line)
            if t:
                cur.append(norm(t))
    for c in commands:
        name = c.split()[0]
        block = next((b for b in blocks if name in b), None)
        if block is None:
            fail("mediacancelctl SYNOPSIS has no line for %s" % name)
            continue
        for n, o in pairs:
            if n == name and o not in block:
                fail("mediacancelctl SYNOPSIS: %s lacks %s" % (name, o))


check_daemon()
check_ctl()
if failures:
    print("%d difference(s) between --help and the manual pages" % len(failures), file=sys.stderr)
    sys.exit(1)
print("--help and the manual pages agree")
