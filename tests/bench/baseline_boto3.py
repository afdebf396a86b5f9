#!/usr/bin/python3
"""baseline_boto3.py -- the activity worker most Python users write (make bench).

One boto3 Step Functions client shared by N threads; each thread long-polls
GetActivityTask and answers SendTaskSuccess, as in the AWS examples. The
"work" is nothing (the same as backfill-worker's noop handler): it echoes
the task's identifying fields with zero counts. Run with the Debian
python3-boto3 (/usr/bin/python3). Stops on SIGTERM.

  baseline_boto3.py ENDPOINT_URL ACTIVITY_ARN CONCURRENCY
"""
import json
import signal
import sys
import threading

import boto3
from botocore.config import Config


def main():
    endpoint, arn, conc = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        # GetActivityTask holds up to 60 s; the pool must fit every thread.
        config=Config(read_timeout=70, max_pool_connections=conc),
    )
    stop = threading.Event()

    def poll_loop(i):
        name = "boto3-bench-%d" % i
        while not stop.is_set():
            task = client.get_activity_task(activityArn=arn, workerName=name)
            token = task.get("taskToken")
            if not token:
                continue
            inp = json.loads(task["input"])
            out = {k: inp.get(k) for k in ("tenant_id", "service", "table_name",
                                             "start_date", "end_date", "chunk_number",
                                             "total_chunks", "backfill_id")}
            out.update(status="SUCCEEDED", records_ingested=0, records_transformed=0,
                       records_rejected=0, pages=0, worker=name)
            client.send_task_success(taskToken=token, output=json.dumps(out))

    threads = [threading.Thread(target=poll_loop, args=(i,), daemon=True) for i in range(conc)]
    for t in threads:
        t.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
