// Package dedupe remembers event ids for a while, on both paths.
//
// On produce, a [Window] maps each (topic, event id) to the partition and
// offset of its acknowledged record for Config.Window (default 10
// minutes), so that a request retried after a timeout is answered with the
// original record instead of producing it again. Concurrent requests with the same
// id are serialised: the first reserves it, the others wait for its
// outcome (Commit: they are duplicates; Abort: the next one reserves it),
// so exactly one record is produced.
//
// On consume, a [Delivered] remembers per topic partition the ids delivered
// within a window of record timestamps, so that a duplicate is committed
// without a second delivery. After a rebalance or a restart the new owner
// rebuilds a partition's window from the partition itself, feeding the
// records before the committed offset; no external store is involved.
//
// Both are bounded in entries; docs/rules.md states the memory per entry,
// measured by this package's benchmarks.
package dedupe
