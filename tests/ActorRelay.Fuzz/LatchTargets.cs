using System.Buffers.Binary;
using System.Text;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Tests.Properties;

namespace ActorRelay.Fuzz;

// The latch policy, one side and a whole channel, on scripts decoded from the fuzzer's bytes, checked by the same code
// as the CsCheck properties (tests/ActorRelay.Tests/Properties/LatchChecks.cs and ChannelChecks.cs, linked here); and
// the expected-source parser. A broken promise throws LatchInvariantException: a crash for libFuzzer.
public static partial class FuzzTargets
{
    /// <summary>Reads the fuzzer's bytes as numbers; past the end it reads zeros.</summary>
    private ref struct Bytes(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;
        public readonly bool More => !_data.IsEmpty;

        public int Byte()
        {
            if (_data.IsEmpty) return 0;
            var b = _data[0];
            _data = _data[1..];
            return b;
        }

        public int UShort() => Byte() << 8 | Byte();

        public byte[] Take(int count)
        {
            count = Math.Min(count, _data.Length);
            var taken = _data[..count].ToArray();
            _data = _data[count..];
            return taken;
        }

        /// <summary>A time step: mostly short, sometimes long (past a learning window).</summary>
        public int Advance()
        {
            var b = Byte();
            return b < 200 ? b % 40 : (b - 200) * 100;
        }
    }

    private static readonly LatchMode[] Modes = [LatchMode.First, LatchMode.Follow, LatchMode.Rtp, LatchMode.Auto];

    /// <summary>Header: mode, probation, sequence jump, window, expected source; then steps of shape, source, SSRC, time, value (and junk).</summary>
    private static void Latch(ReadOnlySpan<byte> data)
    {
        var r = new Bytes(data);
        var mode = Modes[r.Byte() % Modes.Length];
        var probation = r.Byte() % 6;
        var jump = r.Byte() is var j && j < 128 ? 536 : (j - 128) * 10;
        var window = r.Byte() is var w && w < 128 ? 3000 : (w - 128) * 8;
        var expected = LatchPools.Filters[r.Byte() % LatchPools.Filters.Length];
        var policy = new LatchPolicy(mode, TimeSpan.FromMilliseconds(window), probation, jump, expected);
        var steps = new List<LatchStep>();
        while (r.More && steps.Count < 2000)
        {
            var shape = (Shape)(r.Byte() % ((int)Shape.Resignal + 1));
            var source = r.Byte();
            var ssrc = r.Byte() % LatchPools.Ssrcs.Length;
            var advance = r.Advance();
            var value = r.UShort();
            var payload = shape == Shape.Junk ? r.Take(1 + value % 48) : [];
            steps.Add(new LatchStep(shape, source % LatchPools.Sources.Length, ssrc, value, advance, payload, source % LatchPools.Filters.Length));
        }
        var first = LatchScript.Run(policy, steps);
        Check(first.Verdicts.SequenceEqual(LatchScript.Run(policy, steps).Verdicts), "the same script gives the same verdicts");
    }

    private static readonly LatchMode[] ChannelModes = [LatchMode.Auto, LatchMode.Rtp, LatchMode.First];

    /// <summary>Header: mode and timing, probation, jump, window, first sequence numbers, family; then acts (client, rebind, keep-alive, re-signal, stranger).</summary>
    private static void Channel(ReadOnlySpan<byte> data)
    {
        var r = new Bytes(data);
        var h = r.Byte();
        var mode = ChannelModes[h % ChannelModes.Length];
        var timing = (h & 0x80) != 0 && mode != LatchMode.First ? StrangerTiming.Spray : StrangerTiming.AfterLatch;
        var probation = 1 + r.Byte() % 5;
        if (timing == StrangerTiming.Spray) probation = Math.Max(2, probation);
        var jump = r.Byte() is var j && j < 128 ? 536 : (j - 128) * 10;
        var window = r.Byte() is var w && w < 128 ? 3000 : (w - 128) * 8;
        var (leftSeq, rightSeq) = ((ushort)r.UShort(), (ushort)r.UShort());
        var v6 = (r.Byte() & 1) != 0;
        var steps = new List<ChannelStep>();
        while (r.More && steps.Count < 2000)
        {
            var a = r.Byte();
            var side = (a & 0x80) != 0 ? Side.Right : Side.Left;
            var advance = r.Advance();
            switch (a & 0x7F)
            {
                case < 48: steps.Add(new ChannelStep(ChannelAct.ClientSends, side, advance)); break;
                case < 56: steps.Add(new ChannelStep(ChannelAct.ClientRebinds, side, advance)); break;
                case < 64: steps.Add(new ChannelStep(ChannelAct.ClientKeepalive, side, advance)); break;
                case < 72: steps.Add(new ChannelStep(ChannelAct.Resignal, side, advance)); break;
                default:
                    var s = r.Byte();
                    var shape = (Shape)(s % (int)Shape.Resignal);
                    var value = r.UShort();
                    var payload = shape == Shape.Junk ? r.Take(1 + value % 48) : null;
                    steps.Add(new ChannelStep(ChannelAct.Stranger, side, advance, s >> 4, shape, value, payload));
                    break;
            }
        }
        var script = new ChannelScript(mode, timing, probation, jump, window, leftSeq, rightSeq, v6, steps);
        Check(ChannelChecks.Run(script).SequenceEqual(ChannelChecks.Run(script)), "the same script gives the same deliveries");
    }

    private static void SourceFilterTarget(ReadOnlySpan<byte> data)
    {
        // the text after the first 16 bytes is the filter; those bytes are an address to match it against
        var probe = data.Length >= 18 ? new PacketSource(BinaryPrimitives.ReadUInt128BigEndian(data), BinaryPrimitives.ReadUInt16BigEndian(data[16..])) : default;
        var text = Encoding.UTF8.GetString(data.Length >= 18 ? data[18..] : data);
        var ok = SourceFilter.TryParse(text, out var filter, out var error);
        Check(ok == (filter is not null) && ok == (error.Length == 0), "TryParse: a filter exactly when there is no error");
        if (filter is null) return;
        Check(filter.PrefixLength is >= 0 and <= 128 && filter.Port is not 0, "prefix length 0..128, port not 0");
        var mask = filter.PrefixLength == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - filter.PrefixLength);
        Check((filter.Prefix & ~mask) == UInt128.Zero, "no prefix bits past the prefix length");
        Check(filter.Text == text.Trim(), "the filter keeps its text");
        Check(SourceFilter.TryParse(filter.Text, out var again, out _) && again == filter, "a filter's text parses to the same filter");
        var port = filter.Port ?? (ushort)1;
        Check(filter.Matches(new PacketSource(filter.Prefix, port)), "a filter matches its own prefix");
        if (filter.PrefixLength < 128) Check(filter.Matches(new PacketSource(filter.Prefix | UInt128.One << (127 - filter.PrefixLength), port)), "a filter matches any host of its prefix");
        if (filter.PrefixLength > 0) Check(!filter.Matches(new PacketSource(filter.Prefix ^ UInt128.One << (128 - filter.PrefixLength), port)), "a filter matches nothing outside its prefix");
        if (filter.Port is { } p) Check(!filter.Matches(new PacketSource(filter.Prefix, (ushort)(p + 1))), "a filter with a port matches only that port");
        var inPrefix = (probe.Address & mask) == filter.Prefix && (filter.Port is null || probe.Port == filter.Port);
        Check(filter.Matches(probe) == inPrefix, "Matches: the prefix and the port decide");
        var isV4Text = !text.Contains(':') || text.Trim().Count(c => c == ':') == 1 && !text.Contains('[');
        if (isV4Text) Check(filter.PrefixLength >= 96 && filter.Prefix >> 32 == 0xFFFF, "an IPv4 filter matches only IPv4 sources");
    }

    private static string[] SourceFilterTokens => ["/", ":", "[", "]", "::", "::ffff:", ".", "/0", "/32", "/128", "/24", "%", " ", "65535", "65536", "0x", "+", "-"];

    private static byte[] Script(params int[] bytes) => bytes.Select(b => (byte)b).ToArray();

    private static IEnumerable<byte[]> LatchSeeds()
    {
        // each mode: a client's four RTP packets, a stranger, a rebind with the same SSRC, a stale packet, a re-signal
        byte[] steps = Script(
            (int)Shape.RtpNext, 0, 0, 20, 0, 0, (int)Shape.RtpNext, 0, 0, 20, 0, 0, (int)Shape.RtpNext, 0, 0, 20, 0, 0, (int)Shape.RtpNext, 0, 0, 20, 0, 0,
            (int)Shape.RtpNext, 3, 1, 20, 0, 0, (int)Shape.Junk, 3, 0, 5, 0, 3, 1, 2, 3, 4,
            (int)Shape.RtpNext, 1, 0, 20, 0, 0, (int)Shape.RtpBehind, 0, 0, 20, 0, 0, (int)Shape.Resignal, 3, 0, 20, 0, 0,
            (int)Shape.RtpNext, 3, 1, 20, 0, 0, (int)Shape.RtpNext, 3, 1, 20, 0, 0, (int)Shape.RtpNext, 3, 1, 20, 0, 0, (int)Shape.RtpNext, 3, 1, 20, 0, 0,
            (int)Shape.Empty, 7, 0, 20, 0, 0, (int)Shape.Stun, 8, 0, 20, 0, 0);
        for (var mode = 0; mode < 4; mode++) yield return [(byte)mode, 4, 0, 0, 0, .. steps];
    }

    private static IEnumerable<byte[]> ChannelSeeds()
    {
        // both clients latch, then the stranger sprays and streams, a client rebinds and a side is re-signalled
        var opening = Enumerable.Range(0, 10).SelectMany(i => new byte[] { (byte)(i % 2 == 0 ? 0 : 0x80), 20 }).ToArray();
        byte[] rest = [72, 5, 0x40, 0, 1, 0xC8, 5, 0x30, 0, 0, 48, 20, 0, 20, 72, 5, 0x20, 0, 0, 64, 3, 0x80 | 64, 100, 0, 20];
        yield return [0, 4, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, .. opening, .. rest];
        yield return [1, 4, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, .. opening, .. rest];
        yield return [2, 1, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, .. opening, .. rest];
        yield return [0x80, 4, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, .. rest, .. opening, .. rest];
    }

    private static IEnumerable<byte[]> SourceFilterSeeds()
    {
        var probe = new byte[18];
        foreach (var text in new[] { "198.51.100.7", "198.51.100.0/24", "198.51.100.7:4000", "[2001:db8::1]:4000", "2001:db8::/32", "[2001:db8::]:5/16", "::ffff:1.2.3.4/120", " 0.0.0.0/0 " })
            yield return [.. probe, .. Encoding.UTF8.GetBytes(text)];
    }
}
