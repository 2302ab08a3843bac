"""The built-in WeCom simulator and the tools around it: trying the service without a WeCom account,
the demo, running everything on one machine, and what the tests and benchmarks drive the service with.

    simulator  a WeCom API stand-in on loopback (SimState, SimulatorServer, the blueprint `bp`)
    panel      /_sim/: post as a group member from a browser (simulator mode only)
    builders   WeCom callbacks as WeCom sends them: robot and app XML, encrypted and signed
    archive    a stand-in for the message archive SDK (会话内容存档)
    demo       `wecom-bot demo`: a scripted camp week printed to the terminal
    devserver  `wecom-bot run`: the Procfile's processes on one machine, the demo group when unconfigured
"""
