#!/usr/bin/env python3
"""Checks the rules of the source tree that no compiler checks, for .ci/run:

1. No function in Sources is longer than a limit (default 60 lines,
   declaration to closing brace) unless docs/architecture.md's "Long
   functions" section lists it (as `name` in `path`) and says why. Swift:
   every `func`, `init` and `deinit`. C and C++: every function definition
   (a brace block whose header has a parameter list and is not a control
   statement, a lambda or a type). String literals and comments are blanked
   before braces are counted.
2. No Swift string literal in Sources spells a model status, import-run
   status, lineage role, discriminator or augmentation: those are enums
   (their raw values are implicit, or `case off = "none"`).
3. README.md's Layout section names every target of Package.swift.
4. Floors: docs/architecture.md's "Floors" table puts every target of
   Package.swift on a floor; each target depends only on targets of lower
   floors (no sibling at its own floor), every `import` of a project module
   in its sources is one of its declared dependencies, and no test target
   but the command line's own needs the command line built.
5. Every function declared in a public header of the DCMTK bridge
   (Sources/CDCMTKBridge/include/) is named in a Swift file of Sources: a
   function only the bridge calls belongs in its private bridge_internal.h.
6. No force unwrap (`x!`, `Type!`) in Engine's layer code: every file of
   Sources/Engine but the tensor, parameter, optimiser, thread, profiler and
   file code (`ENGINE_SUPPORT`). A layer's backward pass reads what its
   forward pass kept through its plan or `kept(_:by:)`, never `cache!`.
7. Every command's `run()` (Sources/MedsynthCLI) is at most 25 lines:
   parsing, one call into the libraries, printing; the rules live in the
   libraries.

Prints each violation; exit status 1 when there is one.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 60


def blank_literals(text: str, c_like: bool) -> str:
    """Replaces the contents of comments and string/char literals with spaces, keeping newlines."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('"""', i) and not c_like:
            end = text.find('"""', i + 3)
            end = n if end < 0 else end + 3
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text[i] == '"' or (c_like and text[i] == "'"):
            quote, j = text[i], i + 1
            depth = 0  # Swift interpolation \( ... ) may hold quotes
            while j < n:
                if text[j] == "\\" and not c_like and j + 1 < n and text[j + 1] == "(":
                    depth += 1
                    j += 2
                    continue
                if depth and text[j] == "(":
                    depth += 1
                elif depth and text[j] == ")":
                    depth -= 1
                elif text[j] == "\\":
                    j += 2
                    continue
                elif text[j] == quote and depth == 0:
                    break
                elif text[j] == "\n":
                    break
                j += 1
            out.append(quote + " " * (j - i - 1) + (quote if j < n else ""))
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


SWIFT_DECL = re.compile(r"\b(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b)")
C_CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else|return|struct|class|enum|union|namespace|extern)\b")


def functions(path: Path):
    c_like = path.suffix in (".c", ".cpp", ".h")
    lines = blank_literals(path.read_text(), c_like).split("\n")
    stack = []  # (start line, name or None)
    header = ""
    for number, line in enumerate(lines, 1):
        for k, ch in enumerate(line):
            if ch == "{":
                context = (header + " " + line[:k]).strip()
                name = None
                # A brace inside the parameter list opens a default-argument closure, not the body.
                in_parameters = context.count("(") > context.count(")")
                if in_parameters:
                    pass
                elif c_like:
                    if "(" in context and not C_CONTROL.match(context) and "=" not in context.split("(")[0] \
                            and "[" not in context and not context.endswith(";"):
                        name = re.findall(r"([A-Za-z_][A-Za-z0-9_:~]*)\s*\(", context)
                        name = name[-1] if name else None
                else:
                    match = None
                    for match in SWIFT_DECL.finditer(context):
                        pass
                    if match and context[match.end():].count("{") == context[match.end():].count("}") and not re.search(r"\bin\s*$", context):
                        name = re.sub(r"\s+", " ", match.group(1)).rstrip("(<").replace("func ", "")
                stack.append((number, name, number))
                if not in_parameters:
                    header = ""
            elif ch == "}":
                if stack:
                    start, name, opened = stack.pop()
                    if name:
                        yield name, declaration_line(lines, opened, name), number
                if not (header + line[:k]).count("(") > (header + line[:k]).count(")"):
                    header = ""
            elif ch == ";" and c_like:
                header = ""
        ended = line.strip().endswith(("}", ";")) or (c_like and not line.strip())
        # What follows the line's last brace continues into the next line's header.
        last_brace = max(line.rfind("{"), line.rfind("}"))
        if (header + line).count("(") > (header + line).count(")") or last_brace < 0:
            header = "" if ended else header + "\n" + line
        else:
            header = "" if ended else line[last_brace + 1:]
        if len(header) > 2000:
            header = header[-2000:]


def declaration_line(lines, opened, name):
    """The line where `name` is declared, searching back from the brace."""
    plain = name.split("::")[-1].rstrip("?!")
    for number in range(opened, max(0, opened - 15), -1):
        if plain in lines[number - 1]:
            return number
    return opened


STATE_LITERAL = re.compile(r'"(training|validation|dcgan|transfer|diffaugment|running|finished|stopped|interrupted|failed)"')


def state_literals():
    """Swift string literals that spell a state an enum owns."""
    found = []
    for path in sorted((ROOT / "Sources").rglob("*.swift")):
        for number, line in enumerate(path.read_text().split("\n"), 1):
            if STATE_LITERAL.search(line.split("//")[0]):
                found.append(f"{path.relative_to(ROOT)}:{number}: a state spelled as a string literal (use its enum)")
    return found


def layout_omissions():
    """Targets of Package.swift that README.md's Layout section does not name."""
    targets = re.findall(r'\.(?:target|executableTarget|systemLibrary|testTarget)\(\s*name: "([^"]+)"',
                         (ROOT / "Package.swift").read_text())
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[-1].split("\n## ", 1)[0]
    return [f"README.md: the Layout section does not name the target `{target}`" for target in targets
            if f"`{target}`" not in layout and not target.endswith("Tests")]


def package_targets():
    """Each target of Package.swift with its project dependencies (products of other packages left out)."""
    text = (ROOT / "Package.swift").read_text()
    targets = {}
    for match in re.finditer(r'\.(target|executableTarget|systemLibrary|testTarget)\(\s*name: "([^"]+)"', text):
        kind, name = match.groups()
        rest = text[match.end():]
        following = re.search(r'\.(?:target|executableTarget|systemLibrary|testTarget)\(', rest)
        body = rest[:following.start()] if following else rest
        listed = re.search(r"dependencies: \[(.*?)\]\s*[,)]", body, re.S)
        names = re.findall(r'(?<![\w:] )"([A-Za-z]\w*)"', re.sub(r"\.product\([^)]*\)", "", listed.group(1))) if listed else []
        targets[name] = (kind, names)
    return targets


def floor_problems():
    """Targets off the floor table, dependencies at or above their own floor, undeclared imports, tests that need the CLI."""
    targets = package_targets()
    architecture = (ROOT / "docs/architecture.md").read_text()
    section = architecture.split("## Floors", 1)[1].split("\n## ", 1)[0] if "## Floors" in architecture else ""
    floors = {}
    for line in section.split("\n"):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and (cells[0].isdigit() or cells[0] == "tests"):
            for name in re.findall(r"`([^`]+)`", cells[1]):
                floors[name] = int(cells[0]) if cells[0].isdigit() else 1000  # test helpers: above everything
    problems = []
    for name, (kind, dependencies) in targets.items():
        if kind == "testTarget":
            continue
        if name not in floors:
            problems.append(f"docs/architecture.md: the Floors table does not place the target `{name}`")
            continue
        for dependency in dependencies:
            if dependency in floors and floors[dependency] >= floors[name]:
                problems.append(f"Package.swift: `{name}` (floor {floors[name]}) depends on `{dependency}` (floor {floors[dependency]})")
    for name, (kind, dependencies) in targets.items():
        folder = ROOT / ("Tests" if kind == "testTarget" or name == "TestSupport" else "Sources") / name
        for path in sorted(folder.rglob("*.swift")) if folder.is_dir() else []:
            for imported in re.findall(r"^(?:@testable )?import (?:struct |enum |class )?(\w+)", path.read_text(), re.M):
                if imported in targets and imported != name and imported not in dependencies:
                    problems.append(f"{path.relative_to(ROOT)}: imports `{imported}`, which `{name}` does not declare in Package.swift")
    def needs_cli(name, seen=()):
        return any(d == "MedsynthCLI" or (d in targets and d not in seen and needs_cli(d, seen + (d,))) for d in targets[name][1])
    for name, (kind, _) in targets.items():
        if kind == "testTarget" and name != "MedsynthCLITests" and needs_cli(name):
            problems.append(f"Package.swift: the test target `{name}` needs the command line built")
    return problems


ENGINE_SUPPORT = {"Tensor.swift", "TensorFiles.swift", "Parameters.swift", "Adam.swift", "Threads.swift", "Profiler.swift",
                  "ProcessMemory.swift", "Initialization.swift", "SeedStreams.swift"}
FORCE_UNWRAP = re.compile(r"[\w)\]]!(?!=)")


def engine_force_unwraps():
    """Force unwraps and implicitly unwrapped optionals in Engine's layer code."""
    found = []
    for path in sorted((ROOT / "Sources/Engine").glob("*.swift")):
        if path.name in ENGINE_SUPPORT:
            continue
        for number, line in enumerate(blank_literals(path.read_text(), False).split("\n"), 1):
            if FORCE_UNWRAP.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: a force unwrap in layer code (keep the value in the plan, or use kept(_:by:))")
    return found


COMMAND_RUN_LIMIT = 25


def long_command_runs():
    """Commands whose run() is longer than COMMAND_RUN_LIMIT lines."""
    found = []
    for path in sorted((ROOT / "Sources/MedsynthCLI").glob("*.swift")):
        for name, start, end in functions(path):
            if name == "run" and end - start + 1 > COMMAND_RUN_LIMIT:
                found.append(f"{path.relative_to(ROOT)}:{start}: run() is {end - start + 1} lines, over {COMMAND_RUN_LIMIT} "
                             "(move the rules into the library the command calls)")
    return found


def bridge_functions_only_the_bridge_uses():
    """Functions of the bridge's public headers that no Swift file in Sources names."""
    code = " ".join(blank_literals(path.read_text(), False) for path in sorted((ROOT / "Sources").rglob("*.swift")))
    found = []
    for header in sorted((ROOT / "Sources/CDCMTKBridge/include").glob("*.h")):
        text = blank_literals(header.read_text(), True)
        text = re.sub(r"^[ \t]*#.*$", "", text, flags=re.MULTILINE)
        offset = 0
        for statement in re.split(r"[;{}]", text):
            start, offset = offset, offset + len(statement) + 1
            declaration = re.match(r"\s*(?:[A-Za-z_]\w*[\s*]+)+([A-Za-z_]\w*)\s*\(", statement)
            if statement.strip().startswith("typedef") or not declaration:
                continue
            name = declaration.group(1)
            if not re.search(rf"\b{name}\b", code):
                line = text.count("\n", 0, start + declaration.start(1)) + 1
                found.append(f"{header.relative_to(ROOT)}:{line}: {name} is public but no Swift file in Sources names it "
                             "(declare it in Sources/CDCMTKBridge/bridge_internal.h)")
    return found


def main():
    problems = state_literals() + layout_omissions() + floor_problems()
    problems += bridge_functions_only_the_bridge_uses() + engine_force_unwraps() + long_command_runs()
    for problem in problems:
        print(problem)
    allowed = set()
    architecture = (ROOT / "docs/architecture.md").read_text()
    if "## Long functions" in architecture:
        section = architecture.split("## Long functions", 1)[1].split("\n## ", 1)[0]
        allowed = set(re.findall(r"`([^`]+)` in `([^`]+)`", section))
    failed = bool(problems)
    for path in sorted((ROOT / "Sources").rglob("*")):
        if path.suffix not in (".swift", ".c", ".cpp", ".h"):
            continue
        relative = str(path.relative_to(ROOT))
        for name, start, end in functions(path):
            length = end - start + 1
            if length > LIMIT:
                listed = (name, relative) in allowed
                failed |= not listed
                print(f"{relative}:{start}: {name} is {length} lines{' (docs/architecture.md says why)' if listed else ''}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
