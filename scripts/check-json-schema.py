#!/usr/bin/python3
# Validates JSON documents against one of deftrace's schemas (JSON Schema draft 2020-12, Debian's
# python3-jsonschema), every docs/*.schema.json known by its $id so that one schema can refer to
# another's definitions.
#   scripts/check-json-schema.py SCHEMA FILE...
# Prints each failing file's first errors; exit 0 when every file is valid, 1 otherwise.
import glob
import json
import os
import sys

import jsonschema

if len(sys.argv) < 3:
    sys.exit("usage: check-json-schema.py SCHEMA FILE...")
docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")
store = {}
for path in glob.glob(os.path.join(docs, "*.schema.json")):
    with open(path) as f:
        s = json.load(f)
    store[s["$id"]] = s
with open(sys.argv[1]) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver.from_schema(schema, store=store))
bad = 0
for name in sys.argv[2:]:
    with open(name) as f:
        errors = list(validator.iter_errors(json.load(f)))
    for e in errors[:3]:
        print(f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    bad += bool(errors)
sys.exit(1 if bad else 0)
