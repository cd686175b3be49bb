"""JUnit XML for CI systems: one testcase per check, failures carry the figures."""

from __future__ import annotations

import json
import os
from typing import Any


def junit_xml(result: dict[str, Any], suite_name: str = "curaug.validate") -> str:
    """Render a validation result (``ValidationResult.to_dict()``) as JUnit XML.

    Examples
    --------
    >>> xml = junit_xml({"checks": [{"name": "unique", "column": "id", "success": False,
    ...                               "severity": "error", "observed": {}, "details": "2 repeats"}]})
    >>> 'failures="1"' in xml and 'name="unique[id]"' in xml
    True
    """
    from xml.etree import ElementTree as ET

    checks = result.get("checks", [])
    not_run = result.get("skipped", [])
    failures = sum(1 for c in checks if not c["success"] and c["severity"] == "error")
    warned = sum(1 for c in checks if not c["success"] and c["severity"] != "error")
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(checks) + len(not_run)), failures=str(failures),
                       errors="0", skipped=str(warned + len(not_run)))
    for c in checks:
        name = c["name"] + (f"[{c['column']}]" if c.get("column") else "")
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=name)
        if c["success"]:
            continue
        tag = "failure" if c["severity"] == "error" else "skipped"
        node = ET.SubElement(case, tag, message=c.get("details", "")[:500], type=c["name"])
        node.text = json.dumps(c.get("observed", {}), indent=1, default=str)
    for skipped in not_run:  # declared, but not for this data (the splits of an unsplit table)
        name = skipped["name"] + (f"[{skipped['column']}]" if skipped.get("column") else "")
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=name)
        ET.SubElement(case, "skipped", message=skipped["reason"][:500], type=skipped["name"])
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: dict[str, Any], path: str | os.PathLike) -> None:
    from curate.io.atomic import write_text_atomic

    write_text_atomic(path, junit_xml(result))
