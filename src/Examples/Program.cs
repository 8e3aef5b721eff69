using AtomoCollectives.Examples.Cli;

return ExamplesCli.Run(args);
