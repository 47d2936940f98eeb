package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterInfo reads the cluster's identity from Kafka's metadata; the REST
// Proxy front door answers GET /v3/clusters with it.
type ClusterInfo struct {
	// Client asks; *kgo.Client implements it.
	Client interface {
		Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	}
}

var _ = ClusterInfo{Client: (*kgo.Client)(nil)}

// ClusterID returns the cluster id and the controller's broker id (-1
// when Kafka does not say), from one metadata request for no topic.
func (c ClusterInfo) ClusterID(ctx context.Context) (string, int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none; nil would ask for all
	resp, err := req.RequestWith(ctx, c.Client)
	if err != nil {
		return "", -1, fmt.Errorf("kafka metadata: %w", err)
	}
	if resp.ClusterID == nil || *resp.ClusterID == "" {
		return "", -1, errors.New("kafka metadata: the cluster has no id (Kafka before 0.10.1?)")
	}
	return *resp.ClusterID, resp.ControllerID, nil
}
