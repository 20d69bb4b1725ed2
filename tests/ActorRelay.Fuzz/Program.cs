using System.Runtime.InteropServices;
using ActorRelay.Fuzz;
using SharpFuzz;

// ActorRelay.Fuzz <target>                  under libFuzzer (scripts/fuzz.sh): runs the target on every input
// ActorRelay.Fuzz <target> <file>...        without libFuzzer: runs the target once per file (reproduce a crash)
// ActorRelay.Fuzz seeds <target> <dir>      writes the target's seed inputs into <dir>
// ActorRelay.Fuzz dict <target> <file>      writes the target's libFuzzer dictionary into <file> (empty when it has none)
// ActorRelay.Fuzz list                      the targets that scripts/fuzz.sh all runs (every one but selftest), one a line
// The instrumented ActorRelay.dll counts edges into SharpFuzz's trace buffer, which only Fuzzer.LibFuzzer.Run points at
// libFuzzer's shared memory: until then (seeds, reproducing a crash, the seeds run before libFuzzer starts) it counts
// into a buffer of its own, or the first instrumented call would write through a null pointer.
unsafe { SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(1 << 16); }

if (args.Length == 1 && args[0] == "list")
{
    foreach (var name in FuzzTargets.Fuzzed) Console.WriteLine(name);
    return 0;
}
if (args.Length == 3 && args[0] == "dict")
{
    if (!FuzzTargets.TryGet(args[1], out var withTokens)) return Usage();
    File.WriteAllText(args[2], withTokens.Dictionary());
    return 0;
}
if (args.Length >= 3 && args[0] == "seeds")
{
    if (!FuzzTargets.TryGet(args[1], out var seeded)) return Usage();
    Directory.CreateDirectory(args[2]);
    var n = 0;
    foreach (var seed in seeded.Seeds()) File.WriteAllBytes(Path.Combine(args[2], $"seed-{n++:D3}"), seed);
    return 0;
}
if (args.Length < 1 || !FuzzTargets.TryGet(args[0], out var target)) return Usage();

if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
{
    // the seeds once before libFuzzer starts timing inputs: start-up costs (the serializer's ActorSystem, the JIT) are
    // paid here, and a seed that breaks an invariant fails at once
    foreach (var seed in target.Seeds()) target.Run(seed);
    Fuzzer.LibFuzzer.Run(data => target.Run(data));
    return 0;
}
foreach (var file in args.Skip(1))
{
    target.Run(File.ReadAllBytes(file));
    Console.WriteLine($"{file}: ok");
}
return 0;

static int Usage()
{
    Console.Error.WriteLine($"usage: ActorRelay.Fuzz <target> [input files] | seeds <target> <dir> | dict <target> <file> | list; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
