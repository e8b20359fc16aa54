"""Evaluates IAM requests with moto's own policy evaluator, for the test
bed's Authorizer (iam.go).

Reads one JSON request a line on stdin:
    {"policies": ["<policy document JSON>", ...], "action": "ec2:StartInstances",
     "resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123",
     "context": {"aws:ResourceTag/team": "a", ...}}
and answers each with one line: {"result": "PERMITTED" | "DENIED" | "NEUTRAL"},
or {"error": "..."}. Policies are combined as moto's
IAMRequestBase.check_action_permitted combines a caller's policies: an
explicit deny wins, else one allow permits.

Action and Resource are matched by moto's IAMPolicyStatement. Conditions
are not left to it: moto 5.2.5 passes a StringEquals whose key is missing
from the context, pairs values with keys by position (a missing key shifts
the rest), ignores every other operator, and turns an Allow whose condition
fails into an explicit Deny. Here a statement whose condition fails does not
apply, as in AWS, for the operators the shipped policies use (StringEquals,
Null); any other operator in a statement that matches is an error, so that
the test bed never grants or refuses on a condition it did not check.
"""
import json
import sys

from moto.iam.access_control import IAMPolicyStatement, PermissionResult


def condition_met(condition, context):
    for operator, entries in condition.items():
        for key, expected in entries.items():
            values = expected if isinstance(expected, list) else [expected]
            have = context.get(key)
            if operator == "StringEquals":
                if have is None or have not in values:
                    return False
            elif operator == "Null":
                absent = str(values[0]).lower() == "true"
                if (have is None) != absent:
                    return False
            else:
                raise ValueError(f"condition operator {operator} (key {key}) is not evaluated by the test bed")
    return True


def statements(doc):
    st = json.loads(doc)["Statement"]
    return st if isinstance(st, list) else [st]


def evaluate(req):
    context = req.get("context") or {}
    permitted = False
    for doc in req["policies"]:
        for st in statements(doc):
            bare = {k: v for k, v in st.items() if k != "Condition"}
            result = IAMPolicyStatement(bare).is_action_permitted(req["action"], req["resource"])
            if result != PermissionResult.NEUTRAL and st.get("Condition") and not condition_met(st["Condition"], context):
                result = PermissionResult.NEUTRAL
            if result == PermissionResult.DENIED:
                return "DENIED"
            if result == PermissionResult.PERMITTED:
                permitted = True
    return "PERMITTED" if permitted else "NEUTRAL"


def main():
    for line in sys.stdin:
        try:
            out = {"result": evaluate(json.loads(line))}
        except Exception as e:  # the Go side reports it as a test-bed failure
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
