using AtomoCollectives.Examples;

return args.Length > 0 && args[0] == "demo"
    ? EstimatorDemo.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1 << 20)
    : EstimatorDemo.Usage();
