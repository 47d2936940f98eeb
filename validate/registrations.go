package validate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// RegistrationsRefresh is how often, at most, the registry is asked again
// where one schema id is registered.
const RegistrationsRefresh = time.Second

// maxRegistrationStamps bounds the table of when each id's registrations
// were last asked for; past it the table is cleared (at worst one more
// registry call per id).
const maxRegistrationStamps = 10000

// RefreshRegistrations asks the registry again under which subject versions
// schema id is registered, and returns them; Registrations and the labels
// ByID gives follow. A registry gives an identical schema registered under
// another subject the id it already has, so an id cached once may later
// be registered under more subjects. The registry is asked at most once
// per RegistrationsRefresh for an id (meanwhile the cached list is
// returned), so records naming a subject that never comes cannot flood it.
// The error wraps ErrUnavailable when the registry could not be asked; any
// other answer leaves the cached list as it is.
func (r *Resolver) RefreshRegistrations(ctx context.Context, id int) ([]SubjectVersion, error) {
	r.mu.RLock()
	base := r.compiledByID[id]
	r.mu.RUnlock()
	if base == nil { // never loaded: loading lists its registrations
		if _, err := r.ByID(ctx, id, ""); err != nil {
			return nil, err
		}
		return r.Registrations(id), nil
	}
	now := r.opts.Now()
	r.mu.RLock()
	asked, ok := r.regsAsked[id]
	regs := r.usages[id]
	r.mu.RUnlock()
	if ok && now.Sub(asked) < RegistrationsRefresh {
		return regs, nil
	}
	v, err, _ := r.flight.Do("regs\x00"+strconv.Itoa(id), func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		defer cancel()
		usages, err := r.reg.SchemaVersionsByID(cctx, id)
		if err != nil {
			if err = classify(err); errors.Is(err, ErrUnavailable) {
				return nil, err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.stampRegistrations(id, now)
			return r.usages[id], nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		regs := make([]SubjectVersion, 0, len(usages))
		for _, u := range usages {
			regs = append(regs, SubjectVersion{Subject: u.Subject, Version: u.Version})
			l := base.at(u.Subject, u.Version)
			if _, ok := r.byVer[versionKey{u.Subject, u.Version}]; !ok {
				r.byVer[versionKey{u.Subject, u.Version}] = l
			}
			if _, ok := r.bySubjectID[subjectID{u.Subject, id}]; !ok {
				r.bySubjectID[subjectID{u.Subject, id}] = l
			}
		}
		r.usages[id] = regs
		r.stampRegistrations(id, now)
		return regs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the registrations of schema id %d: %w", id, err)
	}
	return v.([]SubjectVersion), nil
}

// stampRegistrations records that id's registrations were listed at t.
// r.mu must be held for writing.
func (r *Resolver) stampRegistrations(id int, t time.Time) {
	if r.regsAsked == nil || len(r.regsAsked) >= maxRegistrationStamps {
		r.regsAsked = map[int]time.Time{}
	}
	r.regsAsked[id] = t
}

// preferredRegistration returns id's registration under subject, asking
// the registry again (RefreshRegistrations) when it is not cached; nil when
// the registry does not list it.
func (r *Resolver) preferredRegistration(ctx context.Context, id int, subject string) (*Schema, error) {
	if _, err := r.RefreshRegistrations(ctx, id); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.bySubjectID[subjectID{subject, id}], nil
}
