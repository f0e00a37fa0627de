package consent

import (
	"net/url"
	"strings"
)

// DPVContext is the JSON-LD @context of the DPV form, inlined in every
// document so that it expands without fetching anything: the DPV, its
// personal data and location extensions, DCMI terms, schema.org, and
// consentgate's own terms for what DPV has no term for.
var DPVContext = map[string]any{
	"dpv":    "https://w3id.org/dpv#",
	"pd":     "https://w3id.org/dpv/pd#",
	"loc":    "https://w3id.org/dpv/loc#",
	"dct":    "http://purl.org/dc/terms/",
	"skos":   "http://www.w3.org/2004/02/skos/core#",
	"schema": "https://schema.org/",
	"rdf":    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
	"xsd":    "http://www.w3.org/2001/XMLSchema#",
	"cg":     "https://consentgate.dev/ns/consent#",
}

// dpvStates maps event states to DPV consent statuses.
var dpvStates = map[string]string{"given": "dpv:ConsentGiven", "refused": "dpv:ConsentRefused", "withdrawn": "dpv:ConsentWithdrawn"}

// dpvTypes maps consent types (event_type) to DPV's consent types.
var dpvTypes = map[string]string{"explicitly expressed": "dpv:ExplicitlyExpressedConsent", "expressed": "dpv:ExpressedConsent"}

// JSONLD is the export in its JSON-LD form, DPV terms as the W3C DPV
// guide for ISO/IEC TS 27560 records uses them: one dpv:ConsentRecord per
// record in @graph, each with its dpv:Process (purpose, personal data,
// controller, legal basis, recipient, consent control, jurisdiction), its
// dpv:hasConsentStatus events and its dpv:hasEntity parties.
func (x *ISOExport) JSONLD() map[string]any {
	graph := make([]any, 0, len(x.Records))
	for i := range x.Records {
		graph = append(graph, x.Records[i].jsonld())
	}
	return map[string]any{"@context": DPVContext, "@graph": graph}
}

func iri(s string) map[string]any { return map[string]any{"@id": s} }

func dateTime(s string) map[string]any { return map[string]any{"@value": s, "@type": "xsd:dateTime"} }

// locIRI is a region code's DPV location ("" for an unknown one).
func locIRI(region string) string {
	if region == "" || region == "unknown" || strings.ContainsAny(region, " #/?") {
		return ""
	}
	return "loc:" + region
}

// partyIRI is a party's node id within the document.
func (r *ISORecord) partyIRI(id string) string {
	return "urn:uuid:" + r.RecordID + "#party-" + url.PathEscape(id)
}

func (r *ISORecord) jsonld() map[string]any {
	p := r.Purposes[0]
	purpose := map[string]any{"@type": "dpv:Purpose", "dct:identifier": p.Purpose, "dct:description": p.PurposeDescription}
	if len(p.PurposeType) > 0 {
		purpose["cg:broaderPolicyPurpose"] = p.PurposeType
	}
	var data []any
	for _, c := range p.PIIInformation {
		d := map[string]any{"@type": "dpv:PersonalData", "dct:identifier": c.PIIType}
		if c.Description != "" {
			d["dct:description"] = c.Description
		}
		data = append(data, d)
	}
	control := map[string]any{"@type": []any{"dpv:WithdrawConsent", "dpv:ProvideConsent"}, "dct:description": p.WithdrawalMethod.Description,
		"cg:api": p.WithdrawalMethod.API}
	exercised := any(p.WithdrawalMethod.API)
	if p.WithdrawalMethod.URL != "" {
		exercised = iri(p.WithdrawalMethod.URL)
	}
	control["dpv:isExercisedAt"] = exercised
	process := map[string]any{
		"@type":                 "dpv:Process",
		"dpv:hasPurpose":        purpose,
		"dpv:hasPersonalData":   data,
		"dpv:hasDataController": iri(r.partyIRI(ControllerPartyID)),
		"dpv:hasLegalBasis":     iri("dpv:Consent"),
		"dpv:hasRecipient":      iri(r.partyIRI(r.Scope.Recipient.ID)),
		"dpv:hasConsentControl": control,
		"dpv:hasRight": map[string]any{"@type": "dpv:DataSubjectRight", "dct:title": "Right to withdraw consent",
			"dpv:isExercisedAt": exercised},
	}
	if l := locIRI(p.Jurisdiction); l != "" {
		process["dpv:hasJurisdiction"] = iri(l)
	}
	var statuses []any
	for _, e := range r.Events {
		types := []any{dpvStates[e.EventState]}
		if t := dpvTypes[e.EventType]; t != "" {
			types = append(types, t)
		}
		by := iri("dpv:DataSubject")
		if e.EntityID == ControllerPartyID {
			by = iri(r.partyIRI(ControllerPartyID))
		}
		st := map[string]any{
			"@type":                   types,
			"dct:identifier":          e.EventID,
			"dpv:isIndicatedAtTime":   dateTime(e.EventTime.String()),
			"dpv:isIndicatedBy":       by,
			"dpv:hasIndicationMethod": e.Method,
			"dpv:hasDuration":         map[string]any{"@type": "dpv:UntilEventDuration", "rdf:value": "until withdrawn"},
			"cg:source":               e.Source,
		}
		if l := locIRI(e.Jurisdiction); l != "" {
			st["dpv:hasJurisdiction"] = iri(l)
		}
		if n := e.Notice; n != nil {
			st["dpv:hasNotice"] = r.noticeNode(n)
		}
		statuses = append(statuses, st)
	}
	var notices []any
	for i := range r.Notices {
		notices = append(notices, r.noticeNode(&r.Notices[i]))
	}
	var entities []any
	for _, pt := range r.Parties {
		e := map[string]any{"@id": r.partyIRI(pt.PartyID), "dct:identifier": pt.PartyID}
		if pt.PartyName != "" && pt.PartyRole != "pii_principal" { // a member's name is not kept: their id stands for it
			e["dpv:hasName"] = pt.PartyName
		}
		switch pt.PartyRole {
		case "pii_controller":
			e["@type"] = []any{"dpv:Organisation", "dpv:DataController"}
		case "pii_principal":
			e["@type"] = "dpv:DataSubject"
		case "third_party":
			e["@type"] = []any{"dpv:Recipient", "dpv:ThirdParty"}
		default:
			e["@type"] = "dpv:Recipient"
		}
		if pt.PartyContact != nil {
			cp := map[string]any{"@type": "schema:ContactPoint"}
			if strings.Contains(*pt.PartyContact, "@") && !strings.Contains(*pt.PartyContact, "://") {
				cp["schema:email"] = *pt.PartyContact
			} else {
				cp["schema:url"] = iri(*pt.PartyContact)
			}
			e["schema:contactPoint"] = cp
		}
		if pt.PartyAddress != nil {
			e["schema:address"] = map[string]any{"@type": "schema:PostalAddress", "schema:streetAddress": *pt.PartyAddress}
		}
		if pt.PartyURL != "" {
			e["schema:url"] = iri(pt.PartyURL)
		}
		entities = append(entities, e)
	}
	out := map[string]any{
		"@id":                  "urn:uuid:" + r.RecordID,
		"@type":                "dpv:ConsentRecord",
		"dct:identifier":       r.RecordID,
		"dct:conformsTo":       iri(DPVRecordSchema),
		"dct:created":          dateTime(r.Created.String()),
		"dct:modified":         dateTime(r.Modified.String()),
		"dpv:hasDataSubject":   iri(r.partyIRI(r.PIIPrincipalID)),
		"dpv:hasProcess":       process,
		"dpv:hasConsentStatus": statuses,
		"dpv:hasEntity":        entities,
		"cg:state":             r.State,
		"cg:recipientScope":    r.Scope.Recipient.Type,
	}
	if len(notices) > 0 {
		out["dpv:hasNotice"] = notices
	}
	if r.Language != nil {
		out["dct:language"] = *r.Language
	}
	return out
}

// noticeNode is a notice as a dpv:ConsentNotice: the policy version (its
// digest and its address, where it has one) the member was shown.
func (r *ISORecord) noticeNode(n *ISONotice) map[string]any {
	m := map[string]any{"@type": "dpv:ConsentNotice", "dct:identifier": n.Version, "cg:policySHA256": n.SHA256, "cg:noted": n.Noted}
	if n.URL != "" {
		m["schema:url"] = iri(n.URL)
	}
	if r.Language != nil {
		m["dct:language"] = *r.Language
	}
	return m
}
