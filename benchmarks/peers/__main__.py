"""`python -m benchmarks.peers`: see the package's docstring.

The guard matters: our Shopify connector starts page workers with multiprocessing's spawn, which
imports the main module again in each worker; only the real main may run the benchmark."""

from benchmarks.peers.harness import main

if __name__ == "__main__":
    main()
