package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 for user space.
const userHZ = 100

// cpuSeconds returns the user plus system CPU seconds process pid has used
// (fields 14 and 15 of /proc/<pid>/stat), or 0 when pid is 0 or unreadable.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / userHZ
}

// resetPeakRSS resets the process's VmHWM to its current RSS (writing 5 to
// /proc/<pid>/clear_refs), so the next peakRSS is the peak since now.
func resetPeakRSS(pid int) {
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM of /proc/<pid>/status in bytes, or 0.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// readPid returns the broker's pid from test/kafka/kafka.sh's pid file in
// dir, or 0.
func readPid(dir string) int {
	if dir == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "broker.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return 0
	}
	return pid
}

var kafkaLibRe = regexp.MustCompile(`kafka-([0-9][0-9A-Za-z.\-]*)/lib`)

// kafkaVersion reads the Kafka version from the broker's class path (the
// jar cache dir of kafka.sh is named kafka-<version>), or "unknown".
func kafkaVersion(pid int) string {
	if pid == 0 {
		return "unknown"
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "unknown"
	}
	if m := kafkaLibRe.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// deleteTopics removes the benchmark topic and the consume rows' topics
// (those that exist), so repeated runs do not fill the broker's disk.
func deleteTopics(brokers []string, topic string) {
	cl, err := harness.NewClient(brokers)
	if err != nil {
		logf("delete topic %s: %v", topic, err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	valid, invalid := consumeTopics(topic)
	adm := kadm.NewClient(cl)
	resps, err := adm.DeleteTopics(ctx, topic, valid, invalid, invalid+".dlq")
	if err != nil {
		logf("delete topic %s: %v", topic, err)
		return
	}
	for _, r := range resps {
		if r.Err != nil && r.Topic == topic {
			logf("delete topic %s: %v", r.Topic, r.Err)
		}
	}
}
