using System.Net;
using System.Text;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgRepliesTests
{
    private static string Encode(BDictionary reply) => Encoding.Latin1.GetString(Bencode.Encode(reply));

    private static BValue At(BValue value, params object[] path)
    {
        foreach (var step in path)
            value = step switch
            {
                string key => ((BDictionary)value)[key] ?? throw new KeyNotFoundException(key),
                int index => ((BList)value).Items[index],
                _ => throw new ArgumentException(),
            };
        return value;
    }

    private static long Int(BValue value, params object[] path) => ((BInteger)At(value, path)).Value;
    private static string Str(BValue value, params object[] path) => ((BString)At(value, path)).Text;

    [Fact]
    public void Simple_replies_are_encoded_as_rtpengine_sends_them()
    {
        Assert.Equal("d6:result4:ponge", Encode(NgReplies.Pong()));
        Assert.Equal("d12:error-reason21:No call-id in message6:result5:errore", Encode(NgReplies.Error(NgErrors.NoCallId)));
        Assert.Equal("d6:result2:oke", Encode(NgReplies.Ok()));
        Assert.Equal("d6:result2:ok3:sdp3:v=07:warning4:oopse", Encode(NgReplies.Ok("v=0"u8.ToArray(), "oops")));
        Assert.Equal("d6:result10:load limite", Encode(NgReplies.LoadLimit()));
        Assert.Equal("d7:message4:busy6:result10:load limite", Encode(NgReplies.LoadLimit("busy")));
        Assert.Equal("d5:callsl2:c12:c2e6:result2:oke", Encode(NgReplies.List(["c1", "c2"])));
        Assert.Equal("d5:callsle6:result2:oke", Encode(NgReplies.List([])));
    }

    [Fact]
    public void The_warning_lists_what_was_not_understood_once()
    {
        Assert.Null(NgReplies.NotUnderstoodWarning([]));
        Assert.Equal("Ignored unsupported keys/flags: codec, SDES-off", NgReplies.NotUnderstoodWarning(["codec", "SDES-off", "codec"]));
    }

    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_402_064_111_250);

    private static NgCallReport Call() => new(Created, Created.AddSeconds(5), [
        new NgTagReport("cs6kn1rloc", Created, [
            new NgMediaReport(1, "audio", "RTP/AVP", [
                new NgStreamReport(false, 30018, IPAddress.Parse("203.0.113.1"), new IPEndPoint(IPAddress.Parse("198.51.100.7"), 57370),
                    new IPEndPoint(IPAddress.Parse("10.0.0.7"), 57370), Created.AddSeconds(13), new NgCounters(343, 56950, 2), new NgCounters(340, 56000, 0),
                    ["filled", "confirmed"]),
                new NgStreamReport(true, 30019, IPAddress.Parse("203.0.113.1"), null, null, null, new NgCounters(2, 164, 0), NgCounters.Zero),
            ], ["initialized"]),
        ], Label: "caller", InDialogueWith: "0f0d2e18", ViaBranch: "z9hG4bK776asdhds"),
        new NgTagReport("0f0d2e18", Created.AddSeconds(1), [
            new NgMediaReport(1, "audio", "RTP/AVP", [
                new NgStreamReport(false, 30016, IPAddress.Parse("2001:db8::1"), new IPEndPoint(IPAddress.Parse("2001:db8::77"), 58493),
                    null, Created.AddSeconds(13), new NgCounters(362, 43337, 1), NgCounters.Zero),
                new NgStreamReport(true, 30017, null, null, null, null, new NgCounters(20, 2080, 0), NgCounters.Zero),
            ]),
        ], InDialogueWith: "cs6kn1rloc"),
    ]);

    [Fact]
    public void Query_statistics_have_rtpengine_shape()
    {
        var reply = Bencode.Decode(Bencode.Encode(NgReplies.CallStatistics(Call())));
        Assert.Equal("ok", Str(reply, "result"));
        Assert.Equal(1_402_064_111, Int(reply, "created"));
        Assert.Equal(250_000, Int(reply, "created_us"));
        Assert.Equal(1_402_064_116, Int(reply, "last signal"));
        Assert.Equal(["0f0d2e18", "cs6kn1rloc"], ((BDictionary)At(reply, "tags")).Entries.Select(e => e.Key));

        var caller = At(reply, "tags", "cs6kn1rloc");
        Assert.Equal(("cs6kn1rloc", "caller", "0f0d2e18", "z9hG4bK776asdhds"),
            (Str(caller, "tag"), Str(caller, "label"), Str(caller, "in dialogue with"), Str(caller, "via-branch")));
        Assert.Equal(1_402_064_111, Int(caller, "created"));
        var media = At(caller, "medias", 0);
        Assert.Equal((1L, "audio", "RTP/AVP", "initialized"), (Int(media, "index"), Str(media, "type"), Str(media, "protocol"), Str(media, "flags", 0)));

        var rtp = At(media, "streams", 0);
        Assert.Equal(30018, Int(rtp, "local port"));
        Assert.Equal(("203.0.113.1", "IPv4"), (Str(rtp, "local address"), Str(rtp, "family")));
        Assert.Equal(("IPv4", "198.51.100.7", 57370L), (Str(rtp, "endpoint", "family"), Str(rtp, "endpoint", "address"), Int(rtp, "endpoint", "port")));
        Assert.Equal(("10.0.0.7", 57370L), (Str(rtp, "advertised endpoint", "address"), Int(rtp, "advertised endpoint", "port")));
        Assert.Equal(1_402_064_124, Int(rtp, "last packet"));
        Assert.Equal(["RTP", "filled", "confirmed"], ((BList)At(rtp, "flags")).Items.Select(i => ((BString)i).Text));
        Assert.Equal((343L, 56950L, 2L), (Int(rtp, "stats", "packets"), Int(rtp, "stats", "bytes"), Int(rtp, "stats", "errors")));
        Assert.Equal(340, Int(rtp, "stats_out", "packets"));

        var rtcp = At(media, "streams", 1);
        Assert.Equal("RTCP", Str(rtcp, "flags", 0));
        Assert.Empty(((BDictionary)At(rtcp, "endpoint")).Entries); // rtpengine: empty when not known
        Assert.Equal(0, Int(rtcp, "last packet"));

        var callee = At(reply, "tags", "0f0d2e18");
        Assert.Null(((BDictionary)callee)["label"]);
        Assert.Equal(("IPv6", "2001:db8::77"), (Str(callee, "medias", 0, "streams", 0, "endpoint", "family"), Str(callee, "medias", 0, "streams", 0, "endpoint", "address")));
        Assert.Null(((BDictionary)At(callee, "medias", 0, "streams", 1))["local address"]);

        // what Kamailio's $rtpstat and OpenSIPS's read: totals of received traffic, RTP and RTCP apart
        Assert.Equal((705L, 100287L, 3L), (Int(reply, "totals", "RTP", "packets"), Int(reply, "totals", "RTP", "bytes"), Int(reply, "totals", "RTP", "errors")));
        Assert.Equal((22L, 2244L, 0L), (Int(reply, "totals", "RTCP", "packets"), Int(reply, "totals", "RTCP", "bytes"), Int(reply, "totals", "RTCP", "errors")));
        Assert.Null(((BDictionary)reply)["warning"]);
    }

    [Fact]
    public void A_delete_reply_may_carry_a_warning_with_its_statistics()
    {
        var reply = NgReplies.CallStatistics(Call(), NgErrors.CallNotFound);
        Assert.Equal(NgErrors.CallNotFound, Str(reply, "warning"));
    }

    [Fact]
    public void Replies_are_canonical_at_every_level()
    {
        AssertSorted(Bencode.Decode(Bencode.Encode(NgReplies.CallStatistics(Call()))));
        AssertSorted(Bencode.Decode(Bencode.Encode(NgReplies.Statistics(Stats()))));

        static void AssertSorted(BValue value)
        {
            switch (value)
            {
                case BDictionary d:
                    Assert.Equal(d.Entries.Select(e => e.Key).OrderBy(k => k, StringComparer.Ordinal), d.Entries.Select(e => e.Key));
                    foreach (var e in d.Entries) AssertSorted(e.Value);
                    break;
                case BList l:
                    foreach (var i in l.Items) AssertSorted(i);
                    break;
            }
        }
    }

    private static NgStatisticsReport Stats() => new(
        new NgCurrentStatistics(SessionsOwn: 3, SessionsTotal: 3, PacketRate: 150, ByteRate: 27000, ErrorRate: 1),
        new NgTotalStatistics(TimeSpan.FromSeconds(18.9), ManagedSessions: 12, RejectedSessions: 1, TimeoutSessions: 2,
            RegularTerminatedSessions: 9, ForcedTerminatedSessions: 1, RelayedPackets: 100_000, RelayedPacketErrors: 17,
            RelayedBytes: 17_200_000, ZeroWayStreams: 1, OneWayStreams: 2, AverageCallDuration: TimeSpan.FromSeconds(12.5)));

    [Fact]
    public void Statistics_have_rtpengine_shape_and_value_types()
    {
        var reply = NgReplies.Statistics(Stats());
        Assert.Equal("ok", Str(reply, "result"));
        var current = At(reply, "statistics", "currentstatistics");
        Assert.Equal((3L, 0L, 3L, 0L, 150L, 27000L, 1L), (Int(current, "sessionsown"), Int(current, "sessionsforeign"), Int(current, "sessionstotal"),
            Int(current, "transcodedmedia"), Int(current, "packetrate"), Int(current, "byterate"), Int(current, "errorrate")));
        var total = At(reply, "statistics", "totalstatistics");
        Assert.Equal("18", Str(total, "uptime"));               // a string in rtpengine's reply
        Assert.Equal("12.500000", Str(total, "avgcallduration")); // likewise
        Assert.Equal((12L, 1L, 2L, 9L, 1L), (Int(total, "managedsessions"), Int(total, "rejectedsessions"), Int(total, "timeoutsessions"),
            Int(total, "regularterminatedsessions"), Int(total, "forcedterminatedsessions")));
        Assert.Equal((100_000L, 17L, 17_200_000L, 1L, 2L), (Int(total, "relayedpackets"), Int(total, "relayedpacketerrors"), Int(total, "relayedbytes"),
            Int(total, "zerowaystreams"), Int(total, "onewaystreams")));
        Assert.Equal((0L, 0L, 0L), (Int(total, "silenttimeoutsessions"), Int(total, "finaltimeoutsessions"), Int(total, "offertimeoutsessions")));
    }
}
