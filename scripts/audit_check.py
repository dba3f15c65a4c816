#!/usr/bin/env python3
"""Checks a Dossier audit proof without Dossier: an event's inclusion proof
(`dossier audit prove DIR SEQ`) or a consistency proof between two heads
(`dossier audit prove DIR --since N`), against its signed tree head.

It rebuilds the event's leaf from its fields (the format is in
repo/audit_trail.h), walks the RFC 9162 path to the head's root, and checks
the head's Ed25519 signature with OpenSSL. Give the public key you trust
(from a head kept elsewhere) with --public-key, or the proof's own is used
and said so.

Usage: scripts/audit_check.py PROOF.json [--public-key HEX] [--old-head HEAD.json]
Exit 0 when the proof holds, 1 when it does not, 2 for bad input.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def put_bytes(b):
    return struct.pack(">I", len(b)) + b


def put_str(s):
    return put_bytes(s.encode("utf-8"))


def event_leaf(event, prev):
    return (b"dossier-audit-v1\n" + struct.pack(">Q", event["seq"]) + struct.pack(">q", event["at"]) +
            put_str(event["user"]) + put_str(event["action"]) + put_str(event["target"]) +
            put_bytes(bytes.fromhex(event["detail_hash"])) + put_bytes(bytes.fromhex(event["sealed"])) + prev)


def head_message(head):
    return (b"dossier-audit-head-v1\n" + put_str(head["repo_id"]) + struct.pack(">Q", head["size"]) +
            struct.pack(">q", head["at"]) + bytes.fromhex(head["root"]))


def verify_inclusion(h, index, size, path, root):
    """RFC 9162, section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, h
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162, section 2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if first == 0 or first > second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def signature_holds(public_key_hex, message, signature_hex):
    # An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix and the key.
    der = bytes.fromhex("302a300506032b6570032100") + bytes.fromhex(public_key_hex)
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("key.der", "msg", "sig")}
        for n, data in (("key.der", der), ("msg", message), ("sig", bytes.fromhex(signature_hex))):
            with open(paths[n], "wb") as f:
                f.write(data)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["key.der"], "-keyform", "DER",
                            "-rawin", "-in", paths["msg"], "-sigfile", paths["sig"]], capture_output=True)
        return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("proof")
    ap.add_argument("--public-key", help="the signing key you trust, hex")
    ap.add_argument("--old-head", help="for a consistency proof: the older head you kept")
    a = ap.parse_args()
    try:
        with open(a.proof) as f:
            proof = json.load(f)
        head = proof["head"]
        key = a.public_key or head["public_key"]
        if key != head["public_key"]:
            print("FAIL: the head was signed with another key than the one given")
            return 1
        if not signature_holds(key, head_message(head), head["signature"]):
            print("FAIL: the head's signature does not hold")
            return 1
        root = bytes.fromhex(head["root"])
        path = [bytes.fromhex(p) for p in proof["path"]]
        if proof.get("format") == "dossier-audit-inclusion-v1":
            e = proof["event"]
            h = leaf_hash(event_leaf(e, bytes.fromhex(proof["prev"])))
            if h.hex() != e["hash"]:
                print("FAIL: the event's fields do not give its hash")
                return 1
            if not verify_inclusion(h, e["seq"] - 1, head["size"], path, root):
                print("FAIL: event %d is not in the tree of %d events" % (e["seq"], head["size"]))
                return 1
            print("ok: event %d (%s by %s) is event %d of the %d under the head signed with %s%s" % (
                e["seq"], e["action"], e["user"] or "-", e["seq"], head["size"], key[:16],
                "" if a.public_key else " (the proof's own key: give --public-key to pin it)"))
            return 0
        if proof.get("format") == "dossier-audit-consistency-v1":
            first, first_root = proof["first_size"], bytes.fromhex(proof["first_root"])
            if a.old_head:
                with open(a.old_head) as f:
                    old = json.load(f)
                if old["size"] != first or old["root"] != proof["first_root"]:
                    print("FAIL: the proof is not from the head you kept")
                    return 1
                if not signature_holds(key, head_message(old), old["signature"]):
                    print("FAIL: the head you kept does not hold its signature")
                    return 1
            if not verify_consistency(first, head["size"], first_root, root, path):
                print("FAIL: the tree of %d events is not a prefix of the tree of %d" % (first, head["size"]))
                return 1
            print("ok: the %d events of the older head are the first %d of the %d now%s" % (
                first, first, head["size"],
                "" if a.old_head else " (its root is the proof's own: give --old-head, the head you kept, to pin it)"))
            return 0
        print("not a Dossier audit proof", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
        print("bad input: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
