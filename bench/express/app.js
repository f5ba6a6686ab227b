// A small Express function for bench/run.sh: JSON parsing middleware, one
// route answering JSON, as a typical Node function in http mode.
//   node bench/express/app.js PORT        (listens on 127.0.0.1:PORT)
process.env.NODE_ENV = process.env.NODE_ENV || 'production';
const express = require('express');

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.get('/', (req, res) => {
    res.json({ hello: 'world', path: req.path });
});
app.post('/', (req, res) => {
    res.json({ received: req.body });
});
const port = Number(process.argv[2] || 3000);
app.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
