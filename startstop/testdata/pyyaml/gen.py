"""Records what PyYAML's yaml.safe_load makes of every *.yml here, for
config_yaml_test.go: python3 gen.py > expected.json (with PyYAML installed;
the recorded version is in the output)."""
import glob, json, os, yaml

out = {"pyyaml": yaml.__version__, "cases": {}}
for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "*.yml"))):
    with open(path) as f:
        text = f.read()
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        out["cases"][os.path.basename(path)] = {"error": " ".join(x for x in (getattr(e, "context", None), getattr(e, "problem", None)) if x),
                                               "line": mark.line + 1 if mark else 0}
        continue
    try:
        json.dumps(value)
    except ValueError:  # a recursive list: an alias inside its own anchor
        value = {k: v for k, v in value.items() if k != "x-loop"}
        out["cases"][os.path.basename(path)] = {"value": value, "recursive": ["x-loop"]}
        continue
    out["cases"][os.path.basename(path)] = {"value": value}
print(json.dumps(out, indent=1, sort_keys=True))
