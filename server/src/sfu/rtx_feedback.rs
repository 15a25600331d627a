//! Retransmissions counted in transport-wide feedback. The crate's TWCC
//! sender numbers, and its congestion controller records, only the streams
//! they are told of, and each media stream comes to them with its RTX stream
//! beside it, never as one of its own: RTX packets left without a
//! transport-wide number, the subscriber never reported them, and the
//! estimate saw neither the resends nor the padding that probes a link.
//! `WithRtxStreams` tells the interceptor it wraps of each RTX stream as a
//! stream of its own, and passes everything else through.

use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// An interceptor that also sees each RTX stream as a stream.
pub struct WithRtxStreams<I>(pub I);

/// The RTX stream of `info`, described as a stream of its own (same header
/// extensions, so the transport-wide number has its place).
fn rtx_stream(info: &StreamInfo) -> Option<StreamInfo> {
    let ssrc = info.ssrc_rtx?;
    Some(StreamInfo {
        ssrc,
        ssrc_rtx: None,
        ssrc_fec: None,
        payload_type: info.payload_type_rtx.unwrap_or(info.payload_type),
        payload_type_rtx: None,
        ..info.clone()
    })
}

impl<I: Interceptor> Protocol<TaggedPacket, TaggedPacket, ()> for WithRtxStreams<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.0.handle_read(message)
    }

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.0.handle_write(message)
    }

    fn handle_event(&mut self, event: ()) -> Result<(), Self::Error> {
        self.0.handle_event(event)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.0.handle_timeout(now)
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.0.poll_read()
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.0.poll_write()
    }

    fn poll_event(&mut self) -> Option<Self::Eout> {
        self.0.poll_event()
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        self.0.poll_timeout()
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        self.0.close()
    }
}

impl<I: Interceptor> Interceptor for WithRtxStreams<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.0.bind_local_stream(info);
        if let Some(rtx) = rtx_stream(info) {
            self.0.bind_local_stream(&rtx);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = rtx_stream(info) {
            self.0.unbind_local_stream(&rtx);
        }
        self.0.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.0.bind_remote_stream(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.0.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests {
    use rtc::interceptor::{AttributedPacket, Packet, RTPHeaderExtension, TwccSenderBuilder};
    use rtc::rtp;
    use rtc::shared::TransportContext;

    use super::*;

    const TWCC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

    fn written(ssrc: u32, now: Instant) -> TaggedPacket {
        let header = rtp::header::Header { version: 2, ssrc, sequence_number: 7, ..Default::default() };
        let packet = rtp::Packet { header, payload: vec![1, 2, 3].into() };
        TaggedPacket {
            now,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    fn transport_number(message: TaggedPacket) -> Option<u16> {
        let Packet::Rtp(packet) = message.message.packet else { return None };
        let extension = packet.header.get_extension(5)?;
        Some(u16::from_be_bytes([extension[0], extension[1]]))
    }

    #[test]
    fn rtx_packets_get_a_transport_wide_number_too() {
        let mut twcc = WithRtxStreams(TwccSenderBuilder::new().build());
        let info = StreamInfo {
            ssrc: 100,
            ssrc_rtx: Some(101),
            payload_type: 96,
            payload_type_rtx: Some(97),
            rtp_header_extensions: vec![RTPHeaderExtension { uri: TWCC_URI.into(), id: 5 }],
            ..Default::default()
        };
        twcc.bind_local_stream(&info);
        let now = Instant::now();
        let mut numbers = Vec::new();
        for ssrc in [100, 101, 100, 999] {
            twcc.handle_write(written(ssrc, now)).expect("written");
            numbers.push(twcc.poll_write().and_then(transport_number));
        }
        assert_eq!(
            numbers,
            vec![Some(0), Some(1), Some(2), None],
            "media and RTX share one sequence; unknown streams none"
        );
        twcc.unbind_local_stream(&info);
        twcc.handle_write(written(101, now)).expect("written");
        assert_eq!(twcc.poll_write().and_then(transport_number), None, "forgotten with its stream");
    }
}
