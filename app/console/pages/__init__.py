"""One module per console section; each holds an APIRouter mounted under /console by app.console.router."""
