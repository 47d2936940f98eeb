package consume

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Set runs a sidecar's subscriptions.
type Set struct {
	loops []*Loop
}

// StartAll starts a loop for each of opts. If one fails to start, the ones
// already started are closed.
func StartAll(ctx context.Context, opts []Options) (*Set, error) {
	s := &Set{}
	for _, o := range opts {
		l, err := Start(o)
		if err != nil {
			_ = s.Close(ctx)
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// Close closes every loop at once (see Loop.Close) and returns their errors
// joined.
func (s *Set) Close(ctx context.Context) error {
	errs := make([]error, len(s.loops))
	var wg sync.WaitGroup
	for i, l := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Close(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Ready returns nil once every subscription has joined its consumer group,
// else says which has not.
func (s *Set) Ready() error {
	for _, l := range s.loops {
		if !l.Joined() {
			return fmt.Errorf("subscription %q has not joined group %q yet", l.sub.Name, l.sub.Group)
		}
	}
	return nil
}
