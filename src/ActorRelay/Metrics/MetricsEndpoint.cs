using System.Net;
using System.Text;

namespace ActorRelay.Metrics;

/// <summary>
/// The node's HTTP endpoint (relay.metrics.listen, the node's --metrics): <c>/metrics</c> in Prometheus's text format,
/// <c>/healthz</c> (200 while the process runs) and <c>/ready</c> (200 when the node serves new channels, else 503 with
/// the reason: restoring, draining, no free port, a relay loop stopped). The runtime's HttpListener, one per address;
/// a scrape runs on its own thread and never waits for an actor.
/// </summary>
public sealed class MetricsEndpoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly RelayMetrics _metrics;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    /// <param name="address">"HOST:PORT", e.g. "127.0.0.1:9464" or "[::1]:9464"; "0.0.0.0"/"::" listen on every address.</param>
    public MetricsEndpoint(string address, RelayMetrics metrics)
    {
        _metrics = metrics;
        var (host, port) = Parse(address);
        _listener.Prefixes.Add($"http://{host}:{port}/");
        _listener.Start(); // throws HttpListenerException when the address is taken or not local
        Address = address;
        _serving = Task.Run(ServeAsync);
    }

    public string Address { get; }

    /// <summary>"HOST:PORT" → what an HttpListener prefix takes; a bad one throws <see cref="FormatException"/> naming it.</summary>
    public static (string Host, int Port) Parse(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new FormatException($"metrics address must be HOST:PORT (e.g. 127.0.0.1:9464), got \"{address}\"");
        var host = address[..colon];
        if (host is "0.0.0.0" or "::" or "[::]" or "*") host = "+";
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            host = $"[{ip}]";
        return (host, port);
    }

    private Task ServeAsync() => HttpServeLoop.RunAsync(_listener, _stop.Token, AnswerAsync);

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            switch (context.Request.Url?.AbsolutePath)
            {
                case "/metrics":
                    response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    await _metrics.Registry.CollectAndExportAsTextAsync(response.OutputStream, _stop.Token).ConfigureAwait(false);
                    break;
                case "/healthz":
                    await Text(response, 200, "alive\n").ConfigureAwait(false);
                    break;
                case "/ready":
                    var why = _metrics.NotReadyBecause;
                    await Text(response, why is null ? 200 : 503, why is null ? "ready\n" : $"not ready: {why}\n").ConfigureAwait(false);
                    break;
                default:
                    await Text(response, 404, "/metrics, /healthz or /ready\n").ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { } // the scraper went away
        finally
        {
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        }
    }

    private static Task Text(HttpListenerResponse response, int status, string text)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(text);
        return response.OutputStream.WriteAsync(bytes, 0, bytes.Length);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        try { _serving.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
