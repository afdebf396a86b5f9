#!/usr/bin/python3
"""baseline_pipeline.py -- one chunk the way a plain Python script does it (make bench).

The comparison for backfill-worker's pipeline: urllib for the ConnectWise
pages (Basic auth, clientId, forward-only paging by Link rel="next"), json to
parse, the same mapping file (src/transform/mappings/tickets.json: path
alternatives, types, required fields), a record_hash over the canonical
record, and gzip JSON Lines (level 3, the worker's level; Python's own
default is 9, which would be slower) for raw and canonical, plus a small
manifest each. Standard library only.

  baseline_pipeline.py BASE_URL COMPANY PUBLIC PRIVATE CLIENT_ID START END OUTDIR MAPPING
Prints {"records": n, "transformed": n, "rejected": n, "pages": n}.
"""
import base64
import datetime
import gzip
import hashlib
import json
import os
import re
import sys
import urllib.parse
import urllib.request

LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
SPLIT = re.compile(r"/|\.|__")
HASH_SKIP = ("ingestion_timestamp", "backfill_id", "record_hash")


def get_path(rec, segs):
    v = rec
    for s in segs:
        if isinstance(v, dict):
            v = v.get(s)
        elif isinstance(v, list) and s.isdigit() and int(s) < len(v):
            v = v[int(s)]
        else:
            return None
        if v is None:
            return None
    return v


def to_ts(v):
    d = datetime.datetime.fromisoformat(v)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    d = d.astimezone(datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def coerce(v, typ):
    """The value as `typ`, or raise ValueError."""
    if typ == "json":
        return v
    if typ == "string":
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v) if isinstance(v, float) and not v.is_integer() else str(int(v))
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if typ == "integer":
        if isinstance(v, bool):
            raise ValueError
        f = float(v)
        if not f.is_integer() or abs(f) > 2 ** 53:
            raise ValueError
        return int(f)
    if typ == "number":
        if isinstance(v, bool):
            raise ValueError
        return float(v)
    if typ == "boolean":
        if isinstance(v, bool):
            return v
        s = str(v).lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
        raise ValueError
    if typ == "timestamp":
        return to_ts(v)
    raise ValueError


def compile_mapping(path):
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    fields = m["sources"]["connectwise"]["service/tickets"]["fields"]
    out = []
    for name, spec in fields.items():
        paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
        out.append((name, [SPLIT.split(p) for p in paths], spec.get("type", "string"),
                    spec.get("required", False)))
    return m["canonical_table"], out


def transform(rec, fields, context):
    out = {}
    for name, alts, typ, required in fields:
        v = None
        for segs in alts:
            v = get_path(rec, segs)
            if v is not None:
                break
        if v is not None:
            try:
                v = coerce(v, typ)
            except (ValueError, TypeError):
                v = None
                if required:
                    return None
        elif required:
            return None
        out[name] = v
    out.update(context)
    hashed = {k: v for k, v in out.items() if k not in HASH_SKIP}
    out["record_hash"] = hashlib.sha256(
        json.dumps(hashed, sort_keys=True, separators=(",", ":"),
                   ensure_ascii=False).encode("utf-8")).hexdigest()
    return out


def main():
    (base, company, public, private, client_id, start, end, outdir, mapping) = sys.argv[1:10]
    table, fields = compile_mapping(mapping)
    auth = base64.b64encode(("%s+%s:%s" % (company, public, private)).encode()).decode()
    headers = {"Authorization": "Basic " + auth, "clientId": client_id,
               "Accept": "application/json", "pagination-type": "forward-only"}
    cond = "_info/lastUpdated >= [%s] and _info/lastUpdated < [%s]" % (start, end)
    url = "%s/v4_6_release/apis/3.0/service/tickets?%s" % (
        base, urllib.parse.urlencode({"conditions": cond, "orderBy": "id asc",
                                      "pageSize": 1000}))
    now = datetime.datetime.now(datetime.timezone.utc)
    context = {"tenant_id": "acme", "source_system": "connectwise",
               "source_table": "service/tickets", "canonical_table": table,
               "ingestion_timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
               "backfill_id": "bench"}
    raw_dir = os.path.join(outdir, "raw")
    can_dir = os.path.join(outdir, "canonical")
    os.makedirs(raw_dir, exist_ok=True)
    os.makedirs(can_dir, exist_ok=True)
    n = ok = rejected = pages = 0
    with gzip.open(os.path.join(raw_dir, "part-00000.jsonl.gz"), "wt", encoding="utf-8",
                   compresslevel=3) as raw, \
         gzip.open(os.path.join(can_dir, "part-00000.jsonl.gz"), "wt", encoding="utf-8",
                   compresslevel=3) as can:
        while url:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=120) as resp:
                body = resp.read()
                link = resp.headers.get("Link") or ""
            pages += 1
            for rec in json.loads(body):
                n += 1
                raw.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False))
                raw.write("\n")
                out = transform(rec, fields, context)
                if out is None:
                    rejected += 1
                    continue
                ok += 1
                can.write(json.dumps(out, separators=(",", ":"), ensure_ascii=False))
                can.write("\n")
            m = LINK_NEXT.search(link)
            url = m.group(1) if m else None
    for kind, d, count in (("raw", raw_dir, n), ("canonical", can_dir, ok)):
        with open(os.path.join(d, "_manifest.json"), "w", encoding="utf-8") as f:
            json.dump({"kind": kind, "records": count, "rejects": rejected if kind != "raw" else 0,
                       "pages": pages, "complete": True}, f)
    print(json.dumps({"records": n, "transformed": ok, "rejected": rejected, "pages": pages}))


if __name__ == "__main__":
    main()
