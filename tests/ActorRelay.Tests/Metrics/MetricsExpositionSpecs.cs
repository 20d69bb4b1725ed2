using System.Text;
using Akka.Actor;
using ActorRelay.Metrics;
using ActorRelay.Protocol;
using ActorRelay.Tests.Node;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Metrics;

/// <summary>
/// The /metrics exposition after a scripted call, line for line (the names, labels and values dashboards are built
/// on), and the readiness the node reports. Only the relay loop's lag histogram, a measure of time, is left out.
/// </summary>
public sealed class MetricsExpositionSpecs : RelayNodeSpecsBase
{
    private readonly ITestOutputHelper _output;
    private readonly RelayMetrics _metrics;

    public MetricsExpositionSpecs(ITestOutputHelper output) : this(output, new RelayMetrics()) { }

    private MetricsExpositionSpecs(ITestOutputHelper output, RelayMetrics metrics) : base("socket", output, metrics: metrics)
    {
        _output = output;
        _metrics = metrics;
    }

    private async Task<string> ScrapeAsync()
    {
        using var stream = new MemoryStream();
        await _metrics.Registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string RelayLines(string exposition) =>
        string.Join('\n', exposition.Split('\n')
            .Where(l => l.Contains("actorrelay_", StringComparison.Ordinal) // the loops' timing histograms vary from run to run
                        && !l.Contains("actorrelay_relay_loop_lag_seconds", StringComparison.Ordinal)
                        && !l.Contains("actorrelay_relay_queue_delay_seconds", StringComparison.Ordinal)));

    [Fact]
    public async Task After_a_scripted_call_the_exposition_is_the_golden_one()
    {
        var ch = await OpenAsync("golden", options: new ChannelOptions(LatchMode: LatchMode.First));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var stranger = new UdpPeer();
        a.SendTo(ch.Left, Payload("hello-from-a"));      // latches left; right not latched: dropped (peer_not_latched)
        await AwaitAssertAsync(async () =>
            Assert.NotNull((await Node.Ask<ChannelSnapshot>(new GetChannel("golden"), Wait)).Left.Latched), Wait);
        b.SendTo(ch.Right, Payload("hello-from-b"));      // latches right, relayed to a
        Assert.Equal("hello-from-b", Encoding.ASCII.GetString(await a.ExpectAsync(Wait)));
        for (var i = 0; i < 3; i++) a.SendTo(ch.Left, Payload($"media-{i:000}")); // 9 bytes each, relayed to b
        for (var i = 0; i < 3; i++) await b.ExpectAsync(Wait);
        stranger.SendTo(ch.Left, Payload("steal"));       // refused: foreign_source
        await AwaitAssertAsync(async () =>
            Assert.Equal(1, (await Node.Ask<ChannelSnapshot>(new GetChannel("golden"), Wait)).Left.Dropped.GetValueOrDefault(DropReason.ForeignSource)), Wait);
        var conflict = await Node.Ask<object>(new OpenChannel("golden", Options: new ChannelOptions(LatchMode: LatchMode.Rtp)), Wait);
        Assert.Equal(RejectReason.Conflict, Assert.IsType<OpenRejected>(conflict).Reason);

        var during = await ScrapeAsync();
        Assert.Contains("actorrelay_channels_open 1\n", during);
        Assert.Contains("actorrelay_packets_relayed_total 4\n", during);

        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("golden"), Wait));
        var pool = Ports.Max - Ports.Min + 1;
        await AwaitAssertAsync(async () => Assert.Contains($"actorrelay_ports_free {pool}\n", await ScrapeAsync()), Wait);
        var actual = RelayLines(await ScrapeAsync());
        _output.WriteLine(actual);
        var golden = Golden(pool);
        // line by line in the message: which series differed is what a rare failure needs to say
        var differing = golden.Split('\n').Except(actual.Split('\n')).Select(l => "- " + l)
            .Concat(actual.Split('\n').Except(golden.Split('\n')).Select(l => "+ " + l));
        Assert.True(golden == actual, "the exposition differs from the golden one (- golden, + scraped):\n" +
                                      (differing.Any() ? string.Join('\n', differing) : "the same lines in another order:\n" + actual));
    }

    private static string Golden(int pool) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Metrics", "golden-exposition.txt"))
        .Replace("{pool}", pool.ToString(System.Globalization.CultureInfo.InvariantCulture)).TrimEnd('\n');

    [Fact]
    public async Task Ready_until_the_node_drains_and_says_why_not()
    {
        await AwaitAssertAsync(() => Assert.Null(_metrics.NotReadyBecause), Wait);
        Assert.Contains("actorrelay_ready 1\n", await ScrapeAsync());
        Node.Tell(DrainNode.Instance, TestActor);
        await AwaitAssertAsync(() => Assert.Equal("draining", _metrics.NotReadyBecause), Wait);
        Assert.Contains("actorrelay_ready 0\n", await ScrapeAsync());
    }
}

/// <summary>The call histograms: what a call's end records (plain, without a node).</summary>
public sealed class CallHistogramTests
{
    private static SideSnapshot Side(Side side, StreamQuality? quality) =>
        new(side, new RelayEndpoint("127.0.0.1", 2000), null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null, quality);

    [Fact]
    public async Task A_call_end_records_each_rtp_sides_mos_jitter_and_loss_and_nothing_for_a_side_without_a_stream()
    {
        var metrics = new RelayMetrics();
        var good = new StreamQuality(Ssrc: 1, PayloadType: 0, PacketsExpected: 1000, PacketsLost: 8, LossRatio: 0.008, Duplicates: 0, Reordered: 0,
            JitterSeconds: 0.004, ClockRate: 8000, ClockRateAssumed: false, Mos: 4.3, SsrcChanges: 0);
        var final = new ChannelSnapshot("c", ChannelState.Closing, LatchMode.Auto, DateTimeOffset.UnixEpoch,
            Side(ActorRelay.Protocol.Side.Left, good), Side(ActorRelay.Protocol.Side.Right, null));
        metrics.CallEnded(final);
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        var text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.Contains("actorrelay_call_mos_count 1\n", text);
        Assert.Contains("actorrelay_call_mos_bucket{le=\"4.2\"} 0\n", text);
        Assert.Contains("actorrelay_call_mos_bucket{le=\"4.4\"} 1\n", text);
        Assert.Contains("actorrelay_call_jitter_seconds_bucket{le=\"0.005\"} 1\n", text);
        Assert.Contains("actorrelay_call_jitter_seconds_bucket{le=\"0.002\"} 0\n", text);
        Assert.Contains("actorrelay_call_loss_ratio_bucket{le=\"0.01\"} 1\n", text);
        Assert.Contains("actorrelay_call_loss_ratio_bucket{le=\"0.005\"} 0\n", text);
    }

    [Theory]
    [InlineData(DropReason.PeerNotLatched, "peer_not_latched")]
    [InlineData(CloseReason.IdleTimeout, "idle_timeout")]
    [InlineData(RejectReason.NotAuthorized, "not_authorized")]
    public void Label_values_are_snake_case(object reason, string label) =>
        Assert.Equal(label, reason switch
        {
            DropReason d => RelayMetrics.Label(d),
            CloseReason c => RelayMetrics.Label(c),
            RejectReason r => RelayMetrics.Label(r),
            _ => throw new ArgumentException(),
        });
}

/// <summary>The HTTP endpoint itself: paths, status codes, the not-ready reason.</summary>
public sealed class MetricsEndpointTests
{
    private static int FreeTcpPort()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact]
    public async Task Ready_answers_503_with_the_reason_until_the_node_is_ready_and_healthz_always_200()
    {
        var metrics = new RelayMetrics();
        var port = FreeTcpPort();
        using var endpoint = new MetricsEndpoint($"127.0.0.1:{port}", metrics);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        var starting = await http.GetAsync("ready");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, starting.StatusCode);
        Assert.Equal("not ready: starting\n", await starting.Content.ReadAsStringAsync());
        metrics.NodeFigures(0, 100, null);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("ready")).StatusCode);
        metrics.NodeFigures(50, 0, "no free port");
        var full = await http.GetAsync("ready");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.Equal("not ready: no free port\n", await full.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("elsewhere")).StatusCode);
        var scrape = await http.GetAsync("metrics");
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType!.ToString());
        Assert.Contains("actorrelay_ports_free 0\n", await scrape.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("9464")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData(":9464")]
    public void A_malformed_address_is_refused(string address) =>
        Assert.Throws<FormatException>(() => MetricsEndpoint.Parse(address));
}
