"""Orders landed by our connector vs peer tools over one local endpoint (run on demand, not in tests).

    .venv/bin/python -m benchmarks.peers --orders 200000                  # Shopify; --orders 5000 to smoke
    .venv/bin/python -m benchmarks.peers --platform top --orders 200000   # Tmall/Taobao over TOP

Starts a replay server for the platform in its own process on a free loopback port: N realistic
records (real orders rendered by the sandbox's simulator of that platform, replicated with fresh ids
and modification times spread over 30 China days, or `--days`), each record's bytes rendered once at
start, the platform's own paging, no rate limit. Then each loader lands the same N records in a fresh
child process (so its peak RSS, summed over the processes it starts, is that loader alone) and prints
a JSON line; the server counts the requests, bytes and records it served to each. Appends a Markdown
table with the machine and versions to the platform's results file (benchmarks/results/peers.md for
Shopify, peers_top.md for TOP). `--repeat k` runs every loader k times, round after round, and gives
each loader's median time and its median ratio to the floor over the rounds: this kind of machine's
speed drifts by up to half within an hour, which one run after another cannot tell from a loader's.

The loaders: download only; download + DuckDB `read_json` → Parquet (the floor); our connector
(landing Parquet, PII hashed); requests + pandas; dlt's `rest_api` source with its defaults and with
`max_table_nesting=0`; dlt fed one Arrow table per page.

    harness.py   the parent (argument parsing, one child process per loader, RSS, results)
    loaders.py   the loaders, written once over what a platform supplies
    base.py      what a platform supplies (`Platform`), the days asked for, the loaders' context
    replay.py    what every replay shares: records replicated from templates, the counting server
    shopify.py   Shopify REST orders, Link-header cursor paging
    top.py       TOP's `taobao.trades.sold.increment.get`, signed calls, daily windows, numbered pages

dlt comes from the `bench` extra (`pip install -e '.[bench]' -c <(echo 'setuptools<66')`); without it
the dlt rows say "not run".
"""
