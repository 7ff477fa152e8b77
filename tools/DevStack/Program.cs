using WebhookConnect.DevStack;

// The whole relay on one machine: parse the settings, start Redis and the services in dependency order (each one
// ready before the next), print what to try, multiplex logs, stop everything on Ctrl-C or SIGTERM.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.Out.Write(DevStackOptions.Help);
    return 0;
}

DevStackOptions options;
try
{
    options = DevStackOptions.Read(args, Environment.GetEnvironmentVariable);
}
catch (DevStackOptionsException ex)
{
    await Console.Error.WriteLineAsync($"dev stack: {ex.Message} (see --help)");
    return 2;
}

await using var stack = new Stack(options, new Output());
return await stack.RunAsync();
