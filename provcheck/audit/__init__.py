"""``provcheck audit``: many images against one policy, one result per input, in input order.

:mod:`.inputs` reads the references (a list or Kubernetes YAML, through :mod:`.workloads`),
:mod:`.shard` picks a shard of them, :mod:`.run` verifies them on one shared client,
:mod:`.render` writes the results, :mod:`.merge` reads shards' JSONL back.
"""
