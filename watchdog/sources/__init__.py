"""Sources: every network call the watchdog makes to Kafka and ZooKeeper, and nothing else."""
