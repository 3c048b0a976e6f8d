//! H.225.0 and H.245 ASN.1 types, generated from the ITU-T modules (see README).
