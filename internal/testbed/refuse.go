package testbed

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// A Refusal answers matching requests with an API error in the service's
// own shape instead of forwarding them: for answers AWS gives and moto
// cannot, such as EC2's UnsupportedHibernationConfiguration (moto ignores
// StopInstances' Hibernate).
type Refusal struct {
	// Ops limits the refusal to these operations (as Operation names
	// them); empty means every operation.
	Ops []string
	// Match, if set, further limits it by the request's query-API
	// parameters (e.g. Hibernate=true, or an InstanceId.N).
	Match func(form url.Values) bool
	// Status is the HTTP status (0: 400).
	Status int
	// Code and Message are the error's; Message may be built from the
	// request's parameters with MessageFor instead.
	Code, Message string
	MessageFor    func(form url.Values) string
}

type refusal struct{ Refusal }

// Refuse adds rf to the proxy's refusals and returns a func that lifts it.
func (p *FaultProxy) Refuse(rf Refusal) (lift func()) {
	x := &refusal{rf}
	p.mu.Lock()
	p.refusals = append(slices.Clip(p.refusals), x)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if i := slices.Index(p.refusals, x); i >= 0 {
			p.refusals = slices.Delete(slices.Clone(p.refusals), i, i+1)
		}
	}
}

// answerRefused answers r with the first refusal that matches it,
// reporting whether one did.
func (p *FaultProxy) answerRefused(w http.ResponseWriter, r *http.Request, refusals []*refusal, service, op string, form url.Values) bool {
	for _, x := range refusals {
		if (len(x.Ops) > 0 && !slices.Contains(x.Ops, op)) || (x.Match != nil && !x.Match(form)) {
			continue
		}
		p.mu.Lock()
		p.stats.Refused++
		n := p.stats.Refused
		p.mu.Unlock()
		status := x.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		msg := x.Message
		if x.MessageFor != nil {
			msg = x.MessageFor(form)
		}
		p.log("faultproxy: refused %s:%s with %s", service, op, x.Code)
		requestID := fmt.Sprintf("faultproxy-refused-%d", n)
		drain(r)
		if service == "ec2" {
			writeXML(w, r, status, "text/xml;charset=UTF-8", requestID,
				`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>`+escape(x.Code)+`</Code><Message>`+
					escape(msg)+`</Message></Error></Errors><RequestID>`+requestID+`</RequestID></Response>`)
		} else {
			queryError(w, r, service, status, x.Code, msg, requestID)
		}
		return true
	}
	return false
}
