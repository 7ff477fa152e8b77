using WebhookConnect.EchoTarget;

// The demo connector's target: one line per delivery on stdout (the AppHost shows it in the terminal and the
// dashboard), PUT /status to choose the answer. The port comes from ECHO_PORT (the AppHost sets it).
var port = EchoSettings.Port(Environment.GetEnvironmentVariable("ECHO_PORT"));
var app = Echo.Build(port, Console.Out);
await app.RunAsync();
