"""Snapshots of a vcluster's store and config, where they go, and restoring them.

- archive.py    the archive format (one tar.gz: metadata, config, store)
- store.py      reading a store while it runs; putting one back before it starts
- capture.py    store + config -> archive -> destination
- pending.py    a restore staged in the data dir, applied by the runner at its next start
- urls.py       file:// and s3:// destinations, S3 settings from flags and environment
- s3.py         S3 through boto3, every failure one line
- transfer.py   upload, download, list and delete for both kinds of destination
- retention.py  names of scheduled snapshots and which ones to delete
- scheduled.py  the runner's task that takes them
"""
