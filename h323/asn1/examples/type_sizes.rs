//! Prints the in-memory size of the largest generated types: what decoding moves around
//! (rasn builds each value on the stack and moves it into its parent). Used to check the
//! generator's boxing of CHOICE alternatives (`gen/src/postprocess.rs`, step 5).
//!
//! `cargo run -p h323-asn1 --example type_sizes`

use std::mem::size_of;

use h323_asn1::{h225, h245};

macro_rules! sizes {
    ($($t:ty),* $(,)?) => {{
        let mut v = vec![$((stringify!($t), size_of::<$t>())),*];
        v.sort_by(|a, b| b.1.cmp(&a.1));
        v
    }};
}

fn main() {
    for (name, size) in sizes!(
        h225::H323UserInformation,
        h225::H323UUPDU,
        h225::H323UUPDUH323MessageBody,
        h225::SetupUUIE,
        h225::ConnectUUIE,
        h225::AlertingUUIE,
        h225::CallProceedingUUIE,
        h225::ReleaseCompleteUUIE,
        h225::FacilityUUIE,
        h225::ProgressUUIE,
        h225::EndpointType,
        h225::TransportAddress,
        h225::AliasAddress,
        h225::RasMessage,
        h225::RegistrationRequest,
        h225::AdmissionRequest,
        h245::MultimediaSystemControlMessage,
        h245::RequestMessage,
        h245::ResponseMessage,
        h245::OpenLogicalChannel,
        h245::TerminalCapabilitySet,
        h245::DataType,
        h245::AudioCapability,
        h245::H2250LogicalChannelParameters,
        h245::TransportAddress,
    ) {
        println!("{size:>6}  {name}");
    }
}
