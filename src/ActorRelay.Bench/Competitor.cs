using System.Diagnostics;

namespace ActorRelay.Bench;

/// <summary>
/// CPU-bound competitors beside the relay (<c>--competitor N</c>): N shell processes spinning in a loop that never sleeps,
/// as another busy service on the relay's host would (a SIP proxy, a build). With <c>--relay-cpu C</c> they are pinned to
/// the relay's core; otherwise the scheduler places them on the machine's cores like any other process. They run for the
/// whole stream part of the run, so every relay of every interleaved round meets the same competition.
/// </summary>
internal sealed class Competitor : IDisposable
{
    private readonly List<Process> _processes = [];

    public Competitor(int count, int? cpu)
    {
        for (var i = 0; i < count; i++)
        {
            var psi = new ProcessStartInfo(cpu is null ? "/bin/sh" : "taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
            if (cpu is { } c) { psi.ArgumentList.Add("-c"); psi.ArgumentList.Add(c.ToString()); psi.ArgumentList.Add("/bin/sh"); }
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("while :; do :; done");
            _processes.Add(Process.Start(psi)!);
        }
    }

    /// <summary>CPU time the competitors used so far (ms), from /proc.</summary>
    public double CpuMilliseconds()
    {
        double total = 0;
        foreach (var p in _processes)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{p.Id}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                total += (long.Parse(fields[11]) + long.Parse(fields[12])) * 10.0;
            }
            catch (IOException) { }
        }
        return total;
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { p.Kill(true); p.WaitForExit(5000); } catch (InvalidOperationException) { }
            p.Dispose();
        }
    }
}
