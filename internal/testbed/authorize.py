"""Evaluates IAM requests with moto's own policy evaluator, for the test
bed's Authorizer (authorize.go).

Reads one JSON request a line on stdin:
    {"policies": ["<policy document JSON>", ...], "action": "ec2:StartInstances",
     "resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123"}
and answers each with one line: {"result": "PERMITTED" | "DENIED" | "NEUTRAL"},
or {"error": "..."}. Policies are combined as moto's
IAMRequestBase.check_action_permitted combines a caller's policies: an
explicit deny wins, else one allow permits.
"""
import json
import sys

from moto.iam.access_control import IAMPolicy, PermissionResult


def evaluate(req):
    permitted = False
    for doc in req["policies"]:
        result = IAMPolicy(doc).is_action_permitted(req["action"], req["resource"])
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
