package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment override. A scalar key's variable is
// the prefix plus its YAML path in upper case joined by "_": kafka.brokers is
// EVENTGUARD_KAFKA_BROKERS (a comma-separated list), registry.url is
// EVENTGUARD_REGISTRY_URL. Lists of objects (topics, subscriptions) are
// set in the file only.
const EnvPrefix = "EVENTGUARD_"

// Default returns a configuration with every default applied.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// Load reads the YAML file at path (if path is not empty), applies the
// environment overrides from env (os.Environ form; nil means none; see
// ApplyEnv) and the
// defaults. It does not validate: call Validate.
func Load(path string, env []string) (*Config, error) {
	c := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(b, c); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if err := ApplyEnv(c, env); err != nil {
		return nil, err
	}
	c.ApplyDefaults()
	return c, nil
}

// Parse decodes YAML into c, refusing unknown keys.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ApplyDefaults fills every unset field with its documented default.
func (c *Config) ApplyDefaults() {
	setS(&c.Feature, "default")
	if c.Instance == "" {
		c.Instance, _ = os.Hostname()
		setS(&c.Instance, "eventguard")
	}
	if len(c.Kafka.Brokers) == 0 {
		c.Kafka.Brokers = []string{"127.0.0.1:9092"}
	}
	setS(&c.Kafka.ClientID, "eventguard")
	setS(&c.Kafka.Compression, "snappy")
	setI(&c.Kafka.MaxBufferedRecords, 10000)
	setI(&c.Kafka.MaxBufferedBytes, 16<<20)
	setS(&c.Registry.URL, "http://127.0.0.1:8081")
	setD(&c.Registry.Timeout, 5*time.Second)
	setD(&c.Registry.LatestTTL, 30*time.Second)
	// Listeners: nil-vs-empty cannot be told apart in YAML strings, so "off"
	// turns a listener off and empty means the default.
	setS(&c.Listen.HTTP, "127.0.0.1:8080")
	setS(&c.Listen.GRPC, "127.0.0.1:9090")
	setS(&c.Listen.Admin, "0.0.0.0:9464")
	setD(&c.Listen.ReadTimeout, 30*time.Second)
	setD(&c.Listen.IdleTimeout, 2*time.Minute)
	setI(&c.Listen.MaxConnections, 1024)
	setS(&c.Listen.Auth.Mode, AuthNone)
	for i := range c.Topics {
		setS(&c.Topics[i].SubjectStrategy, StrategyTopic)
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = 4 << 20
	}
	setI(&c.Limits.MaxRecordsPerRequest, 1000)
	setI(&c.Limits.MaxValueBytes, 1000000)
	setI(&c.Limits.MaxKeyBytes, 4096)
	setD(&c.Limits.ProduceTimeout, 10*time.Second)
	for i := range c.Subscriptions {
		s := &c.Subscriptions[i]
		setS(&s.Group, s.Name)
		setD(&s.Deliver.Timeout, 10*time.Second)
		setS(&s.Deliver.Format, FormatEventguard)
		setI(&s.Retry.Attempts, 5)
		setD(&s.Retry.InitialBackoff, 100*time.Millisecond)
		setD(&s.Retry.MaxBackoff, 10*time.Second)
		setI(&s.MaxInFlight, 256)
		setD(&s.SessionTimeout, 45*time.Second)
		setS(&s.StartFrom, "earliest")
	}
	for i := range c.Deprecations {
		setS(&c.Deprecations[i].AfterSunset, "warn")
	}
	setI(&c.Rules.MaxCost, 100000)
	setI(&c.Rules.TransitionKeys, 100000)
	setS(&c.Log.Level, "info")
	setS(&c.Log.Format, "json")
	setD(&c.Shutdown.GracePeriod, 20*time.Second)
	setI(&c.GRPC.MaxRecvBytes, 4<<20)
	setD(&c.GRPC.KeepaliveTime, 2*time.Hour)
	setD(&c.GRPC.KeepaliveTimeout, 20*time.Second)
	setD(&c.GRPC.KeepaliveMinTime, 10*time.Second)
	setI(&c.GRPC.MaxStreamRequestsInFlight, 4)
	if c.Telemetry.SampleRatio == 0 {
		c.Telemetry.SampleRatio = 0.01
	}
}

// ListenerOff is the listen address that turns a listener off.
const ListenerOff = "off"

func setS(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setI(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setD(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

// ApplyEnv sets every scalar field named by an EVENTGUARD_* variable in env
// (os.Environ form). A variable under a known top-level key that names no
// scalar setting (EVENTGUARD_KAFKA_BROKER, EVENTGUARD_TOPICS) is an error;
// other EVENTGUARD_* variables are not settings and are ignored.
func ApplyEnv(c *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return nil
	}
	delete(vars, "EVENTGUARD_CONFIG")
	var errs []error
	walkScalars(reflect.ValueOf(c).Elem(), strings.TrimSuffix(EnvPrefix, "_"), func(name string, f reflect.Value) {
		v, ok := vars[name]
		if !ok {
			return
		}
		delete(vars, name)
		if err := setFromString(f, v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
		}
	})
	// A leftover variable under a known top-level key is a typo or a list
	// setting (file only): refuse it. Others (EVENTGUARD_PYTHON in a test
	// script, say) are not eventguard settings and are left alone.
	sections := topLevelEnvNames()
	for k := range vars {
		for _, sec := range sections {
			if k == sec || strings.HasPrefix(k, sec+"_") {
				errs = append(errs, fmt.Errorf("environment %s: no such setting", k))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// topLevelEnvNames are EVENTGUARD_<KEY> for every top-level YAML key.
func topLevelEnvNames() []string {
	t := reflect.TypeOf(Config{})
	names := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			names = append(names, EnvPrefix+strings.ToUpper(tag))
		}
	}
	return names
}

// EnvNames lists every environment variable that overrides a setting.
func EnvNames() []string {
	var names []string
	walkScalars(reflect.ValueOf(&Config{}).Elem(), strings.TrimSuffix(EnvPrefix, "_"), func(name string, _ reflect.Value) {
		names = append(names, name)
	})
	return names
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	dateType     = reflect.TypeOf(Date{})
)

func walkScalars(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct && f.Type() != dateType:
			walkScalars(f, name, fn)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.String,
			f.Kind() == reflect.Pointer:
			// Lists of objects and optional blocks live in the file only.
		default:
			fn(name, f)
		}
	}
}

func setFromString(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration like 10s, got %q", s)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		f.SetInt(n)
	case f.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		f.SetFloat(n)
	case f.Kind() == reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts).Convert(f.Type()))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
