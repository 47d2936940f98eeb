package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/eventguard/eventguard/config"
)

// sidecarName is the eventguard container's name in the pod.
const sidecarName = "eventguard"

// imageUID is the numeric user and group the image runs as (Dockerfile USER).
const imageUID = 65532

// Admin endpoints the probes may use (DESIGN.md, "Listeners").
const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
	pathMetrics = "/metrics"
)

// objects is one rendered kustomization, decoded into API types.
type objects struct {
	deployments []*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	netpols     []*networkingv1.NetworkPolicy
	pdbs        []*policyv1.PodDisruptionBudget
}

// kustomizations returns deploy/base and every deploy/overlays/* folder.
func kustomizations(t *testing.T) []string {
	t.Helper()
	dirs := []string{"base"}
	overlays, err := filepath.Glob(filepath.Join("overlays", "*", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(overlays) == 0 {
		t.Fatal("no overlay under deploy/overlays: the example overlay is part of the deliverable")
	}
	for _, k := range overlays {
		dirs = append(dirs, filepath.Dir(k))
	}
	return dirs
}

// render builds the kustomization in dir in-process, as `kubectl kustomize`
// does, and decodes every object strictly into its API type.
func render(t *testing.T, dir string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := &objects{configMaps: map[string]*corev1.ConfigMap{}}
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, r.CurId(), err)
		}
		gvk := r.GetGvk()
		where := fmt.Sprintf("%s: %s %s", dir, gvk.Kind, r.GetName())
		switch gvk.ApiVersion() + " " + gvk.Kind {
		case "apps/v1 Deployment":
			var d appsv1.Deployment
			strictDecode(t, where, y, &d)
			out.deployments = append(out.deployments, &d)
		case "v1 ConfigMap":
			var cm corev1.ConfigMap
			strictDecode(t, where, y, &cm)
			out.configMaps[cm.Name] = &cm
		case "networking.k8s.io/v1 NetworkPolicy":
			var np networkingv1.NetworkPolicy
			strictDecode(t, where, y, &np)
			out.netpols = append(out.netpols, &np)
		case "policy/v1 PodDisruptionBudget":
			var pdb policyv1.PodDisruptionBudget
			strictDecode(t, where, y, &pdb)
			out.pdbs = append(out.pdbs, &pdb)
		default:
			t.Errorf("%s: no API type for %s in this test; add one so the object is checked", where, gvk.ApiVersion())
		}
	}
	return out
}

// strictDecode decodes YAML into v, failing on unknown or duplicate fields.
func strictDecode(t *testing.T, where string, y []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(y, v); err != nil {
		t.Errorf("%s: does not decode strictly into %T: %v", where, v, err)
	}
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	// The checks below are only as good as the decoder: a misspelt field
	// must fail, not vanish.
	y := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: eventguard\n          restartPolicyy: Always\n")
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(y, &d); err == nil || !strings.Contains(err.Error(), "restartPolicyy") {
		t.Fatalf("strict decode of a misspelt field: got %v, want an unknown-field error", err)
	}
}

func TestManifests(t *testing.T) {
	for _, dir := range kustomizations(t) {
		t.Run(filepath.ToSlash(dir), func(t *testing.T) {
			objs := render(t, dir)
			if len(objs.deployments) != 1 {
				t.Fatalf("rendered %d Deployments, want 1", len(objs.deployments))
			}
			d := objs.deployments[0]
			cfg := checkPod(t, d, objs.configMaps)
			checkNetworkPolicy(t, d, objs.netpols, cfg)
			checkDisruptionBudget(t, d, objs.pdbs)
		})
	}
}

// checkPod checks the pod template of d and returns the sidecar's
// configuration as eventguard loads it.
func checkPod(t *testing.T, d *appsv1.Deployment, configMaps map[string]*corev1.ConfigMap) *config.Config {
	t.Helper()
	pod := &d.Spec.Template.Spec

	// A native sidecar: an init container that keeps running.
	var sc *corev1.Container
	for i := range pod.InitContainers {
		if pod.InitContainers[i].Name == sidecarName {
			sc = &pod.InitContainers[i]
		}
	}
	if sc == nil {
		t.Fatalf("no init container %q: eventguard must be a native sidecar", sidecarName)
	}
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("init container %q: restartPolicy must be Always (a native sidecar)", sidecarName)
	}
	if len(pod.Containers) == 0 {
		t.Errorf("no app container beside the sidecar")
	}
	for _, c := range pod.Containers {
		if c.Name == sidecarName {
			t.Errorf("%q is also a regular container", sidecarName)
		}
	}
	if !imagePinned(sc.Image) {
		t.Errorf("sidecar image %q: pin a tag or digest", sc.Image)
	}

	cfg := sidecarConfig(t, pod, sc, configMaps)

	// Listeners: the ingress on loopback (only the pod's containers reach
	// it), the admin listener on every interface (the kubelet and
	// Prometheus reach it).
	for name, addr := range map[string]string{"listen.http": cfg.Listen.HTTP, "listen.grpc": cfg.Listen.GRPC} {
		if addr == config.ListenerOff {
			continue
		}
		if network, path := config.ListenNetwork(addr); network == "unix" {
			// A Unix socket: in a volume both the sidecar and an app
			// container mount, an emptyDir (nothing outside the pod).
			checkSocketVolume(t, pod, sc, name, path)
			continue
		}
		if h, _ := hostPort(t, addr); !isLoopback(h) {
			t.Errorf("%s = %q: keep the ingress on loopback in a pod", name, addr)
		}
	}
	adminHost, adminPort := hostPort(t, cfg.Listen.Admin)
	if !isAllInterfaces(adminHost) {
		t.Errorf("listen.admin = %q: the kubelet probes the pod IP, listen on 0.0.0.0", cfg.Listen.Admin)
	}
	declared := false
	for _, p := range sc.Ports {
		if int(p.ContainerPort) == adminPort {
			declared = true
		}
	}
	if !declared {
		t.Errorf("sidecar declares no container port %d (listen.admin)", adminPort)
	}

	// Probes on the admin port. Liveness and startup use /healthz: an
	// unreachable Kafka or registry makes eventguard not ready, never
	// restarted (no crash loop while a dependency is down).
	checkProbe(t, "startupProbe", sc, sc.StartupProbe, adminPort, pathHealthz)
	checkProbe(t, "livenessProbe", sc, sc.LivenessProbe, adminPort, pathHealthz)
	checkProbe(t, "readinessProbe", sc, sc.ReadinessProbe, adminPort, pathReadyz)

	// Security context, for the sidecar and the app.
	for _, c := range append([]corev1.Container{*sc}, pod.Containers...) {
		checkSecurity(t, pod, &c, c.Name == sidecarName)
	}

	// Shutdown fits in the pod's grace period.
	need := cfg.Shutdown.DrainDelay + cfg.Shutdown.GracePeriod
	if pod.TerminationGracePeriodSeconds == nil {
		t.Errorf("terminationGracePeriodSeconds unset (30s default); set it above shutdown.drain_delay + grace_period = %s", need)
	} else if got := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; got <= need {
		t.Errorf("terminationGracePeriodSeconds %s <= shutdown.drain_delay + shutdown.grace_period = %s", got, need)
	}

	checkResources(t, sc)
	checkSecretMounts(t, pod, sc, cfg)

	// Prometheus scrape annotations point at the admin listener.
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(adminPort) || ann["prometheus.io/path"] != pathMetrics {
		t.Errorf("pod annotations %v: want prometheus.io/scrape \"true\", port %d, path %s", ann, adminPort, pathMetrics)
	}
	return cfg
}

// sidecarConfig finds the file passed as --config, follows its mount to the
// ConfigMap in the rendered output, and loads it with the sidecar's
// EVENTGUARD_* environment, as eventguard would.
func sidecarConfig(t *testing.T, pod *corev1.PodSpec, sc *corev1.Container, configMaps map[string]*corev1.ConfigMap) *config.Config {
	t.Helper()
	args := append(slices.Clone(sc.Command), sc.Args...)
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("sidecar args %q: no --config FILE", args)
	}
	file := args[i+1]
	m := mountFor(sc, file)
	if m == nil {
		t.Fatalf("--config %s: no volume mount holds it", file)
	}
	if !m.ReadOnly {
		t.Errorf("config mount %s: mount it readOnly", m.MountPath)
	}
	v := volume(pod, m.Name)
	if v == nil || v.ConfigMap == nil {
		t.Fatalf("--config %s: mount %q is not a ConfigMap volume", file, m.Name)
	}
	key := m.SubPath
	if key == "" {
		key = strings.TrimPrefix(file, m.MountPath+"/")
	}
	for _, it := range v.ConfigMap.Items {
		if it.Path == key {
			key = it.Key
		}
	}
	cm := configMaps[v.ConfigMap.Name]
	if cm == nil {
		t.Fatalf("--config %s: ConfigMap %q is not in the rendered output", file, v.ConfigMap.Name)
	}
	text, ok := cm.Data[key]
	if !ok {
		t.Fatalf("--config %s: ConfigMap %q has no key %q", file, cm.Name, key)
	}
	var env []string
	for _, e := range sc.Env {
		if !strings.HasPrefix(e.Name, config.EnvPrefix) {
			continue
		}
		if e.ValueFrom != nil {
			t.Errorf("env %s: valueFrom cannot be checked here; prefer a *_file setting on a mounted Secret", e.Name)
			continue
		}
		env = append(env, e.Name+"="+e.Value)
	}
	checkEnvNames(t, "sidecar container", env)
	return loadConfig(t, "ConfigMap "+cm.Name, []byte(text), env)
}

func mountFor(c *corev1.Container, file string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		if file == m.MountPath || strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m
		}
	}
	return nil
}

func volume(pod *corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func checkProbe(t *testing.T, name string, c *corev1.Container, p *corev1.Probe, port int, want string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("sidecar %s: want an httpGet probe on %s", name, want)
		return
	}
	if p.HTTPGet.Path != want {
		t.Errorf("sidecar %s: path %q, want %q", name, p.HTTPGet.Path, want)
	}
	if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("sidecar %s: scheme %s, the admin listener speaks plain HTTP", name, p.HTTPGet.Scheme)
	}
	got := -1
	switch p.HTTPGet.Port.Type {
	case intstr.Int:
		got = p.HTTPGet.Port.IntValue()
	case intstr.String:
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				got = int(cp.ContainerPort)
			}
		}
	}
	if got != port {
		t.Errorf("sidecar %s: port %s resolves to %d, want the admin port %d", name, p.HTTPGet.Port.String(), got, port)
	}
}

func checkSecurity(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, sidecar bool) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("container %s: no securityContext", c.Name)
		return
	}
	// Effective values: the container's, else the pod's.
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	user := sc.RunAsUser
	if user == nil {
		user = psc.RunAsUser
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("container %s: runAsNonRoot must be true", c.Name)
	}
	if user != nil && *user == 0 {
		t.Errorf("container %s: runs as root", c.Name)
	}
	if sidecar && (user == nil || *user != imageUID) {
		t.Errorf("container %s: runAsUser must be %d (the image's user)", c.Name, imageUID)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %s: privileged", c.Name)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container %s: capabilities must drop ALL and add none", c.Name)
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %s: seccompProfile must be RuntimeDefault", c.Name)
	}
}

func checkResources(t *testing.T, sc *corev1.Container) {
	t.Helper()
	r := sc.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || !okLim {
			t.Errorf("sidecar resources: set both requests and limits for %s", name)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("sidecar resources: %s request %s above its limit %s", name, req.String(), lim.String())
		}
	}
	// GOMEMLIMIT, when set, must leave headroom under the memory limit.
	lim, ok := r.Limits[corev1.ResourceMemory]
	for _, e := range sc.Env {
		if e.Name != "GOMEMLIMIT" || !ok {
			continue
		}
		n, err := goMemLimit(e.Value)
		if err != nil {
			t.Errorf("GOMEMLIMIT %q: %v", e.Value, err)
		} else if q := resource.NewQuantity(n, resource.BinarySI); q.Cmp(lim) >= 0 {
			t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", e.Value, lim.String())
		}
	}
}

// goMemLimit parses a GOMEMLIMIT value (bytes with an optional B, KiB,
// MiB, GiB or TiB suffix).
func goMemLimit(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// checkSecretMounts checks every credential file the config reads comes
// from a read-only Secret volume, under a key the volume projects.
func checkSecretMounts(t *testing.T, pod *corev1.PodSpec, sc *corev1.Container, cfg *config.Config) {
	t.Helper()
	files := secretFiles(cfg)
	if cfg.Kafka.SASL.Mechanism != "" && cfg.Kafka.SASL.Password == "" && files["kafka.sasl.password_file"] == "" {
		t.Errorf("kafka.sasl: no password_file (a mounted Secret) for mechanism %s", cfg.Kafka.SASL.Mechanism)
	}
	if cfg.Kafka.SASL.Password != "" || cfg.Registry.Password != "" || cfg.Registry.BearerToken != "" {
		t.Errorf("a credential is written in the ConfigMap; use a *_file setting on a mounted Secret")
	}
	for key, file := range files {
		m := mountFor(sc, file)
		if m == nil {
			t.Errorf("%s = %s: no volume mount holds it", key, file)
			continue
		}
		v := volume(pod, m.Name)
		if v == nil || v.Secret == nil {
			t.Errorf("%s = %s: mount %q is not a Secret volume", key, file, m.Name)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("%s: mount %s readOnly", key, m.MountPath)
		}
		rel := strings.TrimPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(it corev1.KeyToPath) bool { return it.Path == rel }) {
			t.Errorf("%s = %s: Secret volume %q projects no path %q", key, file, m.Name, rel)
		}
	}
}

func checkNetworkPolicy(t *testing.T, d *appsv1.Deployment, nps []*networkingv1.NetworkPolicy, cfg *config.Config) {
	t.Helper()
	podLabels := labels.Set(d.Spec.Template.Labels)
	var np *networkingv1.NetworkPolicy
	for _, p := range nps {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: %v", p.Name, err)
		}
		if sel.Matches(podLabels) {
			np = p
		}
	}
	if np == nil {
		t.Fatalf("no NetworkPolicy selects the pod (labels %v)", podLabels)
	}
	ports := func(rules []networkingv1.NetworkPolicyPort) []int {
		var out []int
		for _, p := range rules {
			if p.Port != nil {
				out = append(out, p.Port.IntValue())
			}
		}
		return out
	}
	var in []int
	for _, r := range np.Spec.Ingress {
		in = append(in, ports(r.Ports)...)
	}
	_, admin := hostPort(t, cfg.Listen.Admin)
	if !slices.Contains(in, admin) {
		t.Errorf("NetworkPolicy %s: no ingress rule for the admin port %d (Prometheus)", np.Name, admin)
	}
	for _, addr := range []string{cfg.Listen.HTTP, cfg.Listen.GRPC} {
		if network, _ := config.ListenNetwork(addr); addr == config.ListenerOff || network == "unix" {
			continue
		}
		if _, p := hostPort(t, addr); slices.Contains(in, p) {
			t.Errorf("NetworkPolicy %s: opens the loopback ingress port %d", np.Name, p)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		return
	}
	var out []int
	for _, r := range np.Spec.Egress {
		out = append(out, ports(r.Ports)...)
	}
	want := map[string]int{"DNS": 53}
	for _, b := range cfg.Kafka.Brokers {
		_, p := hostPort(t, b)
		want["kafka broker "+b] = p
	}
	u, err := url.Parse(cfg.Registry.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := u.Port()
	if rp == "" {
		rp = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	want["registry "+cfg.Registry.URL], _ = strconv.Atoi(rp)
	for what, p := range want {
		if !slices.Contains(out, p) {
			t.Errorf("NetworkPolicy %s: egress blocks %s (port %d)", np.Name, what, p)
		}
	}
}

func checkDisruptionBudget(t *testing.T, d *appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget) {
	t.Helper()
	for _, p := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			t.Fatalf("PodDisruptionBudget %s: %v", p.Name, err)
		}
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return
		}
	}
	t.Errorf("no PodDisruptionBudget selects the pod")
}

// TestEveryManifestIsRendered fails when a YAML file under deploy/ is not
// reachable from a kustomization: such a file would escape the checks above.
func TestEveryManifestIsRendered(t *testing.T) {
	used := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		kf := filepath.Join(dir, "kustomization.yaml")
		if used[kf] {
			return
		}
		used[kf] = true
		b, err := os.ReadFile(kf)
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Resources          []string `json:"resources"`
			Components         []string `json:"components"`
			ConfigMapGenerator []struct {
				Files []string `json:"files"`
			} `json:"configMapGenerator"`
			Patches []struct {
				Path string `json:"path"`
			} `json:"patches"`
		}
		if err := yaml.Unmarshal(b, &k); err != nil {
			t.Fatalf("%s: %v", kf, err)
		}
		refs := append(k.Resources, k.Components...)
		for _, g := range k.ConfigMapGenerator {
			for _, f := range g.Files {
				if _, file, ok := strings.Cut(f, "="); ok { // key=path
					f = file
				}
				refs = append(refs, f)
			}
		}
		for _, p := range k.Patches {
			if p.Path != "" {
				refs = append(refs, p.Path)
			}
		}
		for _, r := range refs {
			p := filepath.Join(dir, r)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				visit(p)
			} else {
				used[p] = true
			}
		}
	}
	for _, dir := range kustomizations(t) {
		visit(dir)
	}
	err := filepath.WalkDir(".", func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if ext := path.Ext(p); (ext == ".yaml" || ext == ".yml") && !used[p] {
			t.Errorf("%s is not used by any kustomization under deploy/", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSocketVolume checks that the Unix socket at path (listen key name)
// is in an emptyDir volume mounted by the sidecar and by an app container.
func checkSocketVolume(t *testing.T, pod *corev1.PodSpec, sc *corev1.Container, name, path string) {
	t.Helper()
	mountOf := func(c *corev1.Container) string {
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
				return m.Name
			}
		}
		return ""
	}
	vol := mountOf(sc)
	if vol == "" {
		t.Errorf("%s = %q: the sidecar mounts no volume there", name, path)
		return
	}
	emptyDir := false
	for _, v := range pod.Volumes {
		if v.Name == vol && v.EmptyDir != nil {
			emptyDir = true
		}
	}
	if !emptyDir {
		t.Errorf("%s = %q: volume %q is not an emptyDir", name, path, vol)
	}
	shared := false
	for i := range pod.Containers {
		shared = shared || mountOf(&pod.Containers[i]) == vol
	}
	if !shared {
		t.Errorf("%s = %q: no app container mounts volume %q", name, path, vol)
	}
}
