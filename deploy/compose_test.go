package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/validate"
)

// composeFile is the part of the Compose specification docker-compose.yml
// uses. It is decoded with unknown keys refused, so a misspelt key (say
// depends-on) fails here instead of being ignored by docker compose.
type composeFile struct {
	Name     string                    `yaml:"name"`
	XBuild   any                       `yaml:"x-eventguard-build"`
	Services map[string]composeService `yaml:"services"`
	// Secrets are files mounted at /run/secrets/<name> in the services
	// that list them.
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart         string `yaml:"restart"`
	ReadOnly        bool   `yaml:"read_only"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return &c
}

// service returns the named service, failing the test when it is missing.
func (c *composeFile) service(t *testing.T, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: no service %q", name)
	}
	return s
}

// mount maps a path inside the container to the host path (relative to the
// module root) of its bind mount, and says whether the mount is read-only.
func (s composeService) mount(containerPath string) (host string, readOnly, ok bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		src, dst := parts[0], parts[1]
		ro := len(parts) > 2 && slices.Contains(strings.Split(parts[2], ","), "ro")
		if containerPath == dst {
			return filepath.Join(root, src), ro, true
		}
		if rel, found := strings.CutPrefix(containerPath, strings.TrimSuffix(dst, "/")+"/"); found {
			return filepath.Join(root, src, rel), ro, true
		}
	}
	return "", false, false
}

// published returns the container ports published on the host, keyed by
// container port, with the host address they are bound to.
func (s composeService) published(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if len(parts) != 3 {
			t.Errorf("port %q: publish as HOST_IP:HOST_PORT:CONTAINER_PORT (bind the host side to 127.0.0.1)", p)
			continue
		}
		cp, err := strconv.Atoi(parts[2])
		if err != nil {
			t.Errorf("port %q: %v", p, err)
			continue
		}
		out[cp] = parts[0]
	}
	return out
}

// eventguardConfig loads the config file the eventguard service mounts,
// with the service's environment, through eventguard's own loader and
// validation.
func eventguardConfig(t *testing.T, c *composeFile) *config.Config {
	t.Helper()
	eg := c.service(t, "eventguard")
	i := slices.Index(eg.Command, "--config")
	if i < 0 || i+1 >= len(eg.Command) {
		t.Fatalf("eventguard command %q: no --config FILE", eg.Command)
	}
	host, ro, ok := eg.mount(eg.Command[i+1])
	if !ok {
		t.Fatalf("eventguard: --config %s is not bind-mounted from the repository", eg.Command[i+1])
	}
	if !ro {
		t.Errorf("eventguard: mount the config read-only (:ro)")
	}
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatalf("eventguard config: %v", err)
	}
	var env []string
	for k, v := range eg.Environment {
		env = append(env, k+"="+v)
	}
	checkEnvNames(t, "eventguard service", env)
	return loadConfig(t, host, b, env)
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"kafka", "topics", "schema-registry", "contracts", "eventguard", "consumer", "producer", "poison"} {
		c.service(t, name)
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Build == nil && !imagePinned(s.Image) {
			t.Errorf("service %s: image %q: pin a tag", name, s.Image)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(root, s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: build: %v", name, err)
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on unknown service %s", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			case d.Condition == "service_completed_successfully" && target.Restart != "no":
				t.Errorf("service %s waits for %s to complete, which is not a one-shot (restart: \"no\")", name, dep)
			case d.Condition != "service_healthy" && d.Condition != "service_completed_successfully" && d.Condition != "service_started":
				t.Errorf("service %s: depends_on %s: unknown condition %q", name, dep, d.Condition)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s: volume %s: %v", name, v, err)
				}
			}
		}
		for cp, hostIP := range s.published(t) {
			if hostIP != "127.0.0.1" {
				t.Errorf("service %s: port %d published on %q; publish on 127.0.0.1 so the stack is not reachable from the network", name, cp, hostIP)
			}
		}
	}
}

// TestComposeKafkaVersion keeps the compose broker on the Kafka version the
// end-to-end tests run (test/kafka/kafka.sh).
func TestComposeKafkaVersion(t *testing.T) {
	c := loadCompose(t)
	b, err := os.ReadFile(filepath.Join(root, "test", "kafka", "kafka.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`KAFKA_VERSION="\$\{KAFKA_VERSION:-([0-9.]+)\}"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("test/kafka/kafka.sh: no pinned KAFKA_VERSION")
	}
	for _, name := range []string{"kafka", "topics"} {
		if want := "apache/kafka:" + string(m[1]); c.service(t, name).Image != want {
			t.Errorf("service %s: image %s, want %s (the version the e2e tests run)", name, c.service(t, name).Image, want)
		}
	}
}

func TestComposeEventguardConfig(t *testing.T) {
	c := loadCompose(t)
	cfg := eventguardConfig(t, c)
	eg := c.service(t, "eventguard")

	// Kafka: every broker address is the kafka service's advertised
	// in-network listener.
	kafka := c.service(t, "kafka")
	advertised := strings.Split(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], ",")
	for _, b := range cfg.Kafka.Brokers {
		if !slices.ContainsFunc(advertised, func(l string) bool { return strings.HasSuffix(l, "://"+b) }) {
			t.Errorf("kafka.brokers %s is not an advertised listener of the kafka service (%v)", b, advertised)
		}
	}

	// The registry URL names the schema-registry service on its listener port.
	reg := c.service(t, "schema-registry")
	u, err := url.Parse(cfg.Registry.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "schema-registry" {
		t.Errorf("registry.url %s: want the schema-registry service", cfg.Registry.URL)
	}
	if l := reg.Environment["SCHEMA_REGISTRY_LISTENERS"]; !strings.HasSuffix(l, ":"+u.Port()) {
		t.Errorf("registry.url port %s, but the registry listens on %s", u.Port(), l)
	}

	// Listeners: on every interface of the container (other containers
	// connect), published on the host's loopback on the same port.
	pub := eg.published(t)
	for name, addr := range map[string]string{"listen.http": cfg.Listen.HTTP, "listen.grpc": cfg.Listen.GRPC, "listen.admin": cfg.Listen.Admin} {
		if addr == config.ListenerOff {
			continue
		}
		h, p := hostPort(t, addr)
		if !isAllInterfaces(h) {
			t.Errorf("%s = %s: in the compose network other containers connect; listen on 0.0.0.0", name, addr)
		}
		if _, ok := pub[p]; !ok {
			t.Errorf("%s port %d is not published by the eventguard service (%v)", name, p, eg.Ports)
		}
	}
	exposed := dockerfileExposed(t)
	for p := range pub {
		if !slices.Contains(exposed, p) {
			t.Errorf("eventguard publishes port %d, which the Dockerfile does not EXPOSE (%v)", p, exposed)
		}
	}

	// Subscriptions deliver to a service eventguard waits for.
	for i, s := range cfg.Subscriptions {
		if s.Deliver.URL == "" {
			continue
		}
		du, err := url.Parse(s.Deliver.URL)
		if err != nil {
			t.Fatal(err)
		}
		app, ok := c.Services[du.Hostname()]
		if !ok {
			t.Errorf("subscriptions[%d].deliver.url %s: no service %q", i, s.Deliver.URL, du.Hostname())
			continue
		}
		if app.Environment["PORT"] != du.Port() {
			t.Errorf("subscriptions[%d].deliver.url port %s, but %s listens on PORT=%q", i, du.Port(), du.Hostname(), app.Environment["PORT"])
		}
		if eg.DependsOn[du.Hostname()].Condition != "service_healthy" {
			t.Errorf("eventguard must wait for %s to be healthy: deliveries to a missing app are dead-lettered once retries run out", du.Hostname())
		}
	}

	// The one-shot topics job creates every topic eventguard uses.
	topics := strings.Fields(c.service(t, "topics").Environment["TOPICS"])
	need := map[string]string{}
	for _, tp := range cfg.Topics {
		need[tp.Name] = "topics[].name"
	}
	for _, s := range cfg.Subscriptions {
		for _, tp := range s.Topics {
			need[tp] = "subscription " + s.Name
			need[s.DLQTopicFor(tp)] = "dead-letter topic of subscription " + s.Name
		}
	}
	for tp, why := range need {
		if !slices.Contains(topics, tp) {
			t.Errorf("topic %s (%s) is not created by the topics service (TOPICS=%v), and the broker does not auto-create", tp, why, topics)
		}
	}
	for _, dep := range []string{"topics", "contracts"} {
		if eg.DependsOn[dep].Condition != "service_completed_successfully" {
			t.Errorf("eventguard must wait for %s to complete successfully", dep)
		}
	}

	// docker compose stop waits long enough for the graceful stop.
	if eg.StopGracePeriod == "" {
		t.Errorf("eventguard: set stop_grace_period (the default 10s) above shutdown.drain_delay + grace_period")
	} else if d, err := time.ParseDuration(eg.StopGracePeriod); err != nil {
		t.Errorf("eventguard stop_grace_period: %v", err)
	} else if need := cfg.Shutdown.DrainDelay + cfg.Shutdown.GracePeriod; d <= need {
		t.Errorf("eventguard stop_grace_period %s <= shutdown.drain_delay + grace_period = %s", d, need)
	}
	if !eg.ReadOnly {
		t.Errorf("eventguard: read_only: true (it writes nothing)")
	}

	// The producer app talks to eventguard's listeners.
	prod := c.service(t, "producer")
	for env, addr := range map[string]string{"SIDECAR_URL": cfg.Listen.HTTP, "SIDECAR_ADMIN_URL": cfg.Listen.Admin} {
		_, p := hostPort(t, addr)
		if want := fmt.Sprintf("http://eventguard:%d", p); prod.Environment[env] != want {
			t.Errorf("producer %s = %q, want %q", env, prod.Environment[env], want)
		}
	}
	if _, ok := cfg.Topic(prod.Environment["TOPIC"]); !ok && !cfg.AllowAnyTopic {
		t.Errorf("producer TOPIC %q is not in eventguard's topics", prod.Environment["TOPIC"])
	}
}

// TestComposeContracts checks the registration job registers
// examples/contracts with the registry eventguard uses, and that the
// contracts cover the topics.
func TestComposeContracts(t *testing.T) {
	c := loadCompose(t)
	cfg := eventguardConfig(t, c)
	job := c.service(t, "contracts")
	eg := c.service(t, "eventguard")
	if job.Build == nil || eg.Build == nil || job.Image != eg.Image {
		t.Errorf("contracts job: run the eventguard image itself (same build and image)")
	}
	if !slices.Equal(job.Entrypoint, []string{"/eventguard"}) {
		t.Errorf("contracts job: entrypoint %q, want [/eventguard]", job.Entrypoint)
	}
	args := job.Command
	if len(args) < 3 || args[0] != "contracts" || args[1] != "register" {
		t.Fatalf("contracts job: command %q, want contracts register --registry URL DIR", args)
	}
	i := slices.Index(args, "--registry")
	if i < 0 || i+1 >= len(args) || args[i+1] != cfg.Registry.URL {
		t.Errorf("contracts job: --registry must be eventguard's registry.url %s (command %q)", cfg.Registry.URL, args)
	}
	host, ro, ok := job.mount(args[len(args)-1])
	if !ok || !ro {
		t.Fatalf("contracts job: %s must be a read-only bind mount", args[len(args)-1])
	}
	if abs, _ := filepath.Abs(host); abs != mustAbs(t, filepath.Join(root, "examples", "contracts")) {
		t.Errorf("contracts job registers %s, want examples/contracts", host)
	}
	set, err := contracts.Load(os.DirFS(host))
	if err != nil {
		t.Fatalf("contracts job's folder does not load: %v", err)
	}
	subjects := map[string]bool{}
	for _, s := range set.Subjects {
		subjects[s.Name] = true
	}
	for _, tp := range cfg.Topics {
		if tp.SubjectStrategy == config.StrategyTopic && !subjects[tp.Name+"-value"] {
			t.Errorf("topic %s: subject %s-value is not in examples/contracts", tp.Name, tp.Name)
		}
	}
}

// TestComposeExampleApps checks the producer sends a valid and an invalid
// golden payload of the subject it produces to, and the poison record is
// not in the wire format on a consumed topic.
func TestComposeExampleApps(t *testing.T) {
	c := loadCompose(t)
	cfg := eventguardConfig(t, c)
	prod := c.service(t, "producer")
	topic := prod.Environment["TOPIC"]
	version, err := strconv.Atoi(prod.Environment["SCHEMA_VERSION"])
	if err != nil {
		t.Fatalf("producer SCHEMA_VERSION: %v", err)
	}
	subject := topic + "-value"
	contractsDir := filepath.Join(root, "examples", "contracts")
	set, err := contracts.Load(os.DirFS(contractsDir))
	if err != nil {
		t.Fatal(err)
	}
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	sch, err := validate.NewResolver(local, validate.Options{}).ByVersion(context.Background(), subject, version)
	if err != nil {
		t.Fatalf("producer pins %s version %d: %v", subject, version, err)
	}
	for env, wantValid := range map[string]bool{"VALID_EVENT": true, "INVALID_EVENT": false} {
		host, _, ok := prod.mount(prod.Environment[env])
		if !ok {
			t.Errorf("producer %s=%s is not mounted", env, prod.Environment[env])
			continue
		}
		rel, err := filepath.Rel(contractsDir, host)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("producer %s=%s is not an example contract's golden payload", env, prod.Environment[env])
			continue
		}
		kind := map[bool]string{true: "valid", false: "invalid"}[wantValid]
		if want := path.Join(subject, strconv.Itoa(version), kind); path.Dir(filepath.ToSlash(rel)) != want {
			t.Errorf("producer %s=%s: want a payload from %s/", env, rel, want)
		}
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		if f := sch.Validate(b); (f == nil) != wantValid {
			t.Errorf("producer %s=%s: valid=%v against %s version %d, want %v (%v)", env, rel, f == nil, subject, version, wantValid, f)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "apps", "producer.py")); err != nil {
		t.Error(err)
	}

	// poison: kcat -P -t TOPIC FILE, on a topic a subscription consumes.
	poison := c.service(t, "poison")
	args := poison.Command
	ti := slices.Index(args, "-t")
	if ti < 0 || ti+1 >= len(args) || !slices.Contains(args, "-P") {
		t.Fatalf("poison: command %q, want kcat -P -t TOPIC FILE", args)
	}
	consumed := false
	for _, s := range cfg.Subscriptions {
		consumed = consumed || slices.Contains(s.Topics, args[ti+1])
	}
	if !consumed {
		t.Errorf("poison writes to %s, which no subscription consumes", args[ti+1])
	}
	host, _, ok := poison.mount(args[len(args)-1])
	if !ok {
		t.Fatalf("poison: %s is not mounted", args[len(args)-1])
	}
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[0] == 0 {
		t.Errorf("poison record %s starts with the wire-format magic byte; it must not be a valid eventguard record", host)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
