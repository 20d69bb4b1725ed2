using System.Net;

namespace ActorRelay.Metrics;

/// <summary>
/// The accept loop of the node's small HTTP endpoints (metrics and health; the cluster bootstrap's contact point): each
/// request is answered on the thread pool, a listener error skips that request, and the loop ends when the listener
/// stops or <paramref name="stop"/> is cancelled.
/// </summary>
internal static class HttpServeLoop
{
    public static async Task RunAsync(HttpListener listener, CancellationToken stop, Func<HttpListenerContext, Task> answer)
    {
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (stop.IsCancellationRequested || !listener.IsListening) { return; }
            catch (HttpListenerException) { continue; }
            _ = Task.Run(() => answer(context), CancellationToken.None);
        }
    }
}
