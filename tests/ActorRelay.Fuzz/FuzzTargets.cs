using System.Buffers.Binary;
using ActorRelay.Latching;
using ActorRelay.Quality;

namespace ActorRelay.Fuzz;

/// <summary>A fuzz target: runs code that reads untrusted bytes and throws <see cref="FuzzInvariantException"/> when an invariant breaks.</summary>
public sealed record FuzzTarget(string Name, string Description, FuzzTarget.Body Run, Func<IEnumerable<byte[]>> Seeds, IReadOnlyList<string>? Tokens = null)
{
    /// <summary>The tokens as a libFuzzer dictionary (-dict): one quoted token a line, bytes outside printable ASCII escaped.</summary>
    public string Dictionary() => string.Concat((Tokens ?? []).Select(t =>
        "\"" + string.Concat(System.Text.Encoding.UTF8.GetBytes(t).Select(b => b is >= 0x20 and < 0x7F and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:X2}")) + "\"\n"));

    public delegate void Body(ReadOnlySpan<byte> data);
}

/// <summary>Thrown by a target when the code under test broke one of its promises (libFuzzer records a crash).</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// The targets, by name. To fuzz another reader of untrusted bytes, add an entry to <see cref="All"/>: a name, a body
/// that feeds the input to the code and checks what must always hold, and a few seed inputs.
/// </summary>
public static partial class FuzzTargets
{
    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("classifier", "RtpHeader.Classify / TryReadRtp / IsValidRtcp and PacketDemux.Classify on one datagram", Classifier, ClassifierSeeds),
        new("rtcp", "RtcpReportReader and RtpStreamStats.OnRtcp on one datagram", Rtcp, RtcpSeeds),
        new("stream", "RtpStreamStats on a run of datagrams (2-byte big-endian length before each) and its snapshot", Stream, StreamSeeds),
        new("bencode", "Bencode.Decode on any bytes; what decodes encodes back to the same bytes and canonically to a fixpoint", BencodeTarget, BencodeSeeds, BencodeTokens),
        new("ng", "NgFraming.Read and NgRequest.TryParse on a datagram (and its text as rtpp-flags); a reply frames and reads back", NgTarget, NgSeeds, NgTokens),
        new("sdp", "SdpBody.Parse; an identity rewrite returns the body byte for byte; generated targets never throw and re-parse", SdpTarget, SdpSeeds, SdpTokens),
        new("serializer", "RelayProtocolSerializer.FromBinary under each manifest (first byte): that type or UnreadableMessage, bounded allocation", Serializer, SerializerSeeds, SerializerTokens),
        new("latch", "one side's latch on a script decoded from the bytes, every promise checked after every datagram (every mode)", Latch, LatchSeeds),
        new("channel", "two latches and the relay rule with two clients and a stranger decoded from the bytes: the stranger never gets through", Channel, ChannelSeeds),
        new("sourcefilter", "SourceFilter.TryParse on any text: never throws; a filter re-parses equal and matches what its prefix says", SourceFilterTarget, SourceFilterSeeds, SourceFilterTokens),
        new("selftest", "throws on an input whose first byte is 0x2A: proves that the harness reports a crash", SelfTest, () => [[0]]),
    ];

    /// <summary>Every target but selftest: what <c>scripts/fuzz.sh all</c> runs.</summary>
    public static IEnumerable<string> Fuzzed => All.Where(t => t.Name != "selftest").Select(t => t.Name);

    public static IEnumerable<string> Names => All.Select(t => t.Name);

    public static bool TryGet(string name, out FuzzTarget target)
    {
        target = All.FirstOrDefault(t => t.Name == name)!;
        return target is not null;
    }

    internal static void Check(bool condition, string what)
    {
        if (!condition) throw new FuzzInvariantException(what);
    }

    private static void Classifier(ReadOnlySpan<byte> data)
    {
        var kind = RtpHeader.Classify(data, out var ssrc, out var seq);
        var isRtp = RtpHeader.TryReadRtp(data, out var h);
        var demux = PacketDemux.Classify(data);
        if (isRtp)
        {
            Check(h.HeaderLength >= 12 && h.HeaderLength + h.PaddingLength <= data.Length, "RTP header and padding fit");
            Check(h.PayloadLength(data.Length) >= 0, "RTP payload length is not negative");
            Check(demux == PacketClass.Rtp, "a valid RTP header is demultiplexed as RTP");
        }
        if (kind == RtpKind.Rtp)
            Check(isRtp && h.Ssrc == ssrc && h.Sequence == seq && ssrc != 0, "Classify's RTP agrees with TryReadRtp");
        if (kind == RtpKind.Rtcp)
            Check(RtpHeader.IsValidRtcp(data) && demux == PacketClass.Rtcp, "Classify's RTCP is valid RTCP");
        Check(data.IsEmpty == (demux == PacketClass.Empty), "only an empty datagram is Empty");
    }

    private static void Rtcp(ReadOnlySpan<byte> data)
    {
        var reader = new RtcpReportReader(data);
        var blocks = 0;
        var sources = new HashSet<uint>();
        while (reader.TryNext(out var block))
        {
            blocks++;
            sources.Add(block.SourceSsrc);
        }
        Check(blocks == 0 || reader.IsValidCompound, "blocks only from a valid compound");
        Check(blocks * RtcpReportBlock.Size <= data.Length, "no more blocks than the datagram holds");
        var stats = new RtpStreamStats();
        Check(stats.OnRtcp(data, 0) == blocks, "OnRtcp reads the same blocks");
        Check(stats.Snapshot().Reports.Count == Math.Min(sources.Count, RtpStreamStats.MaxReportedSources), "one report kept per source, at most four");
    }

    private static void Stream(ReadOnlySpan<byte> data)
    {
        var stats = new RtpStreamStats();
        stats.Formats.Register(101, 8000, "telephone-event");
        long at = 0;
        while (data.Length >= 2)
        {
            var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(data), data.Length - 2);
            at += 20_000;
            stats.OnRtp(data.Slice(2, length), at);
            data = data[(2 + length)..];
        }
        var q = stats.Snapshot();
        Check(q.Consistent, "a snapshot without a concurrent writer is consistent");
        Check(q.PacketsLost >= 0 && q.PacketsLost <= Math.Max(0, q.PacketsExpected), "0 <= lost <= expected");
        Check(q.LossRatio is >= 0 and <= 1, "loss ratio in 0..1");
        Check(double.IsFinite(q.JitterSeconds) && q.JitterSeconds >= 0, "jitter finite and not negative");
        Check(q.Mos is >= 1 and <= 4.5, "MOS in 1..4.5");
    }

    private static void SelfTest(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty && data[0] == 0x2A) throw new FuzzInvariantException("selftest: the first byte is 0x2A");
    }

    private static byte[] Rtp(ushort seq, uint ssrc, uint ts, byte pt = 0, byte first = 0x80, int payload = 20)
    {
        var p = new byte[12 + payload];
        p[0] = first;
        p[1] = pt;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), ts);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        return p;
    }

    private static readonly byte[] ReceiverReport = Convert.FromHexString(
        "81c90007b558fb89023b80650a0000010000571700000001fff6c4cf00001827" +
        "81ca000cb558fb89011c757365723135393530303332393040686f73742d326264383134366206094753747265616d6572000000");

    private static IEnumerable<byte[]> ClassifierSeeds()
    {
        yield return Rtp(1, 0x11223344, 160);
        var withCsrcAndExtension = new byte[12 + 8 + 8 + 4];
        Rtp(2, 0x55667788, 320).AsSpan(0, 12).CopyTo(withCsrcAndExtension);
        withCsrcAndExtension[0] = 0x80 | 0x10 | 0x20 | 2;       // X, P, two CSRCs
        withCsrcAndExtension[20] = 0xBE; withCsrcAndExtension[21] = 0xDE; withCsrcAndExtension[23] = 1;
        withCsrcAndExtension[^1] = 4;
        yield return withCsrcAndExtension;
        yield return ReceiverReport;
        var stun = new byte[20];
        stun[1] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(stun.AsSpan(4), PacketDemux.StunMagicCookie);
        yield return stun;
        yield return [0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4];       // TURN ChannelData
        yield return [22, 0xFE, 0xFD, 0, 0];                      // DTLS record start
    }

    private static IEnumerable<byte[]> RtcpSeeds()
    {
        yield return ReceiverReport;
        yield return ReceiverReport[..32];
    }

    private static IEnumerable<byte[]> StreamSeeds()
    {
        var run = new List<byte>();
        foreach (var (seq, ts) in new (ushort, uint)[] { (65534, 0), (65535, 160), (0, 320), (2, 640), (1, 480), (2, 640), (3, 80_000) })
        {
            var p = Rtp(seq, 0xABCDEF01, ts);
            run.Add((byte)(p.Length >> 8));
            run.Add((byte)p.Length);
            run.AddRange(p);
        }
        yield return run.ToArray();
    }
}
