using ActorRelay.Fuzz;
using SharpFuzz;

// ActorRelay.Fuzz <target>                  under libFuzzer (scripts/fuzz.sh): runs the target on every input
// ActorRelay.Fuzz <target> <file>...        without libFuzzer: runs the target once per file (reproduce a crash)
// ActorRelay.Fuzz seeds <target> <dir>      writes the target's seed inputs into <dir>
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
    Console.Error.WriteLine($"usage: ActorRelay.Fuzz <target> [input files] | seeds <target> <dir>; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
