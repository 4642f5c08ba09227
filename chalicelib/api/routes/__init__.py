"""The HTTP routes, one blueprint per audience: parse the request into a body model, call one
use case, answer. The member id of a member route comes from the verified token only."""
