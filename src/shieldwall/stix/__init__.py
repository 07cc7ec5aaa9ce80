"""STIX 2.1 helpers shared by every capability: TLP 2.0 markings, validation, the hub identity."""
