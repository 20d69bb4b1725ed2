using System.Net;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>An in-sequence stream of malformed "RTP" (headers pointing past the end) cannot pass the latch's probation.</summary>
public sealed class MalformedRtpLatchTests
{
    private static readonly PacketSource Stranger = PacketSource.From(new IPEndPoint(IPAddress.Parse("203.0.113.66"), 31337));

    public static TheoryData<string> Malformations => new() { "csrc", "extension", "padding" };

    private static byte[] Malformed(ushort seq, string how)
    {
        var p = RtpPackets.Rtp(seq, 0x77777777, payload: 4);   // 16 bytes
        switch (how)
        {
            case "csrc": p[0] = 0x80 | 0x0F; break;             // 15 CSRCs = 72 bytes of header
            case "extension": p[0] = 0x90; p[14] = 0xFF; p[15] = 0xFF; break;
            default: p[0] = 0xA0; p[^1] = 200; break;           // 200 bytes of padding in a 16-byte packet
        }
        return p;
    }

    [Theory]
    [MemberData(nameof(Malformations))]
    public void Malformed_rtp_never_latches(string how)
    {
        var latch = new SideLatch(new LatchPolicy(LatchMode.Rtp, TimeSpan.FromSeconds(3), 4, 536, null), 0);
        for (ushort i = 0; i < 20; i++)
            Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(Stranger, Malformed((ushort)(100 + i), how), 20 * i));
        Assert.False(latch.IsLatched);
    }
}
