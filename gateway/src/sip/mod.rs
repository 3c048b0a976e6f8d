//! SIP (RFC 3261): messages, URIs, headers, transactions, dialogs, transports.
